/** The scoring verb: route rows to versions, validate features, run the model, log predictions. */
import { DriftlineError, type FieldIssue, ValidationError } from "#core/errors";
import type { ActivePointer, PredictionRecord } from "#core/scoring";
import { buildFeatureMatrix, chooseVersion, MAX_SCORE_ROWS } from "#core/scoring";
import type { WaitUntil } from "../http/wait-until";
import type { ServingVersion } from "../model-registry/model-registry";
import { createLogger } from "../observability/logger";
import type { Services } from "../services";

// The batch limit lives in the core: the upload check sizes its memory bound by it too.
export { MAX_SCORE_ROWS };

/** Issues listed in one 400; a batch of bad rows would otherwise answer with megabytes. */
const MAX_ISSUES = 50;

export interface ScoreRowInput {
  entityId?: string | undefined;
  features: Record<string, unknown>;
}

export type ScoreInput = {
  model: string;
  version?: string | undefined;
} & (
  | { entityId?: string | undefined; features: Record<string, unknown>; rows?: undefined }
  | { rows: ScoreRowInput[]; features?: undefined; entityId?: undefined }
);

export interface SingleScore {
  predictionId: string;
  model: string;
  version: string;
  score: number;
}

export interface BatchScore {
  model: string;
  /** The version that scored the rows; with a challenger active, the champion's. */
  version: string;
  predictions: { predictionId: string; score: number; version: string }[];
}

export interface ScoreDeps
  extends Pick<Services, "models" | "predictionLog" | "entityIds" | "now" | "random"> {
  waitUntil: WaitUntil;
  log?: (entry: Record<string, unknown>) => void;
}

export async function scoreRequest(input: {
  deps: ScoreDeps;
  tenant: string;
  body: ScoreInput;
}): Promise<SingleScore | BatchScore> {
  const { deps, tenant, body } = input;
  const single = body.rows === undefined;
  const rows: ScoreRowInput[] = single
    ? [{ entityId: body.entityId, features: body.features }]
    : body.rows;
  if (rows.length > MAX_SCORE_ROWS) {
    throw new DriftlineError(
      "PAYLOAD_TOO_LARGE",
      `A request scores at most ${MAX_SCORE_ROWS} rows; this one has ${rows.length}. Split it into several requests.`,
    );
  }
  const model = body.model;

  // Which version scores each row. An explicit version pins all rows; otherwise the pointer's
  // champion, or its challenger for a deterministic (entityId) or random share of rows.
  let pointer: ActivePointer;
  if (body.version !== undefined) {
    pointer = { champion: body.version };
  } else {
    pointer = await deps.models.requireActive(tenant, model);
  }
  const candidates = [
    pointer.champion,
    ...(pointer.challenger ? [pointer.challenger.version] : []),
  ];
  const versions = await Promise.all(candidates.map((v) => deps.models.serving(tenant, model, v)));

  // Every row is validated against every version that could score it, so whether a request is
  // valid never depends on the random draw.
  const fieldOf = single ? () => "features" : (i: number) => `rows.${i}.features`;
  const matrices = versions.map((v) => buildFeatureMatrix(v.manifest.features, rows, fieldOf));
  const issues: FieldIssue[] = [];
  for (const m of matrices) if (!m.ok) issues.push(...m.issues);
  if (issues.length > 0) throw featureError(dedupe(issues));

  const assignment = rows.map((row) =>
    chooseVersion(pointer, { tenant, model, entityId: row.entityId }, deps.random),
  );
  const scores = new Float64Array(rows.length);
  await Promise.all(
    versions.map(async (serving, v) => {
      const matrix = matrices[v]!;
      if (!matrix.ok) return;
      const picked = selectRows(assignment, serving.version);
      if (picked.length === 0) return;
      const result = await scoreRows(serving, matrix.values, matrix.columns, picked, rows.length);
      picked.forEach((rowIndex, j) => {
        scores[rowIndex] = result[j]!;
      });
    }),
  );

  const scoredAt = deps.now().toISOString();
  const records: PredictionRecord[] = rows.map((row, i) => {
    const v = candidates.indexOf(assignment[i]!.version);
    const matrix = matrices[v]!;
    const score = scores[i]!;
    if (!Number.isFinite(score)) {
      throw new DriftlineError(
        "INTERNAL",
        `Model "${model}" version "${assignment[i]!.version}" returned a non-finite score for ${fieldOf(i)}; check the model export.`,
      );
    }
    return {
      schemaVersion: 1,
      tenant,
      predictionId: crypto.randomUUID(),
      model,
      version: assignment[i]!.version,
      ...(row.entityId === undefined ? {} : { entityId: row.entityId }),
      features: matrix.ok ? matrix.logged[i]! : {},
      score,
      scoredAt,
    };
  });

  // Logging must never delay or fail the answer: it runs after the response is sent.
  // Entity ids are keyed on the way out (HMAC), after the response like the write itself.
  deps.waitUntil(
    keyEntityIds(records, deps.entityIds)
      .then((keyed) => deps.predictionLog.write(keyed))
      .catch((err: unknown) => {
        (deps.log ?? defaultLog)({
          level: "error",
          msg: "predictions were not queued",
          tenant,
          model,
          rows: records.length,
          error: err instanceof Error ? err.message : String(err),
        });
      }),
  );

  if (single) {
    const r = records[0]!;
    return { predictionId: r.predictionId, model, version: r.version, score: r.score };
  }
  return {
    model,
    version: pointer.champion,
    predictions: records.map((r) => ({
      predictionId: r.predictionId,
      score: r.score,
      version: r.version,
    })),
  };
}

function selectRows(assignment: readonly { version: string }[], version: string): number[] {
  const picked: number[] = [];
  assignment.forEach((a, i) => {
    if (a.version === version) picked.push(i);
  });
  return picked;
}

/** Scores the picked rows of a full matrix; avoids a copy when every row is picked. */
function scoreRows(
  serving: ServingVersion,
  values: Float32Array,
  columns: number,
  picked: readonly number[],
  totalRows: number,
): Promise<Float64Array> {
  if (picked.length === totalRows) return serving.score(values, totalRows);
  const subset = new Float32Array(picked.length * columns);
  picked.forEach((rowIndex, j) => {
    subset.set(values.subarray(rowIndex * columns, (rowIndex + 1) * columns), j * columns);
  });
  return serving.score(subset, picked.length);
}

function dedupe(issues: readonly FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.field}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function featureError(issues: FieldIssue[]): ValidationError {
  const shown = issues.slice(0, MAX_ISSUES);
  const head = issues
    .slice(0, 3)
    .map((i) => `${i.field} ${i.message}`)
    .join("; ");
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
  return new ValidationError(`Invalid features: ${head}${more}`, shown);
}

const defaultLog = createLogger("error").entry;

async function keyEntityIds(
  records: PredictionRecord[],
  keyer: ScoreDeps["entityIds"],
): Promise<PredictionRecord[]> {
  return Promise.all(
    records.map(async (record) =>
      record.entityId === undefined
        ? record
        : { ...record, entityId: await keyer.key(record.tenant, record.entityId) },
    ),
  );
}
