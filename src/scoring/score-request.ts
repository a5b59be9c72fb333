/** The scoring verb: route rows to versions, validate features, run the model, log predictions. */
import { DriftlineError, type FieldIssue, ValidationError } from "#core/errors";
import { type Explanation, nameContributions, type Reason, topReasons } from "#core/explain";
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
  /** Explain every row: Shapley contributions per feature. */
  explain?: boolean | undefined;
  /** Also list the k largest contributions as reasons (implies `explain`). */
  explainTop?: number | undefined;
} & (
  | { entityId?: string | undefined; features: Record<string, unknown>; rows?: undefined }
  | { rows: ScoreRowInput[]; features?: undefined; entityId?: undefined }
);

/** What an explained row adds to its score. */
export interface ExplainedFields {
  explanation?: Explanation;
  reasons?: Reason[];
}

export interface SingleScore extends ExplainedFields {
  predictionId: string;
  model: string;
  version: string;
  score: number;
}

export interface BatchScore {
  model: string;
  /** The version that scored the rows; with a challenger active, the champion's. */
  version: string;
  predictions: ({ predictionId: string; score: number; version: string } & ExplainedFields)[];
}

export interface ScoreDeps
  extends Pick<Services, "models" | "predictionLog" | "entityIds" | "now" | "random"> {
  waitUntil: WaitUntil;
  log?: (entry: Record<string, unknown>) => void;
  /**
   * Top reasons each logged prediction carries (0: none). Explained rows carry theirs; other rows
   * of linearly or tree-explained models are explained after the response, for the log only.
   */
  logReasons?: number;
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

  // Explanations come before the answer (they are part of it); a model that cannot explain
  // within the limits refuses the request rather than answering without them.
  const explainTop = body.explainTop;
  const explanations: (Explanation | undefined)[] = new Array(rows.length);
  if (body.explain === true || explainTop !== undefined) {
    await explainRows(versions, matrices, assignment, explanations, model);
  }

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
  const logReasons = deps.logReasons ?? 0;
  deps.waitUntil(
    (logReasons > 0
      ? withLoggedReasons(records, explanations, logReasons, versions, matrices, assignment)
      : Promise.resolve(records)
    )
      .then((logged) => keyEntityIds(logged, deps.entityIds))
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

  const explained = (i: number): ExplainedFields => {
    const explanation = explanations[i];
    if (explanation === undefined) return {};
    return explainTop === undefined
      ? { explanation }
      : { explanation, reasons: topReasons(explanation, explainTop) };
  };
  if (single) {
    const r = records[0]!;
    return {
      predictionId: r.predictionId,
      model,
      version: r.version,
      score: r.score,
      ...explained(0),
    };
  }
  return {
    model,
    version: pointer.champion,
    predictions: records.map((r, i) => ({
      predictionId: r.predictionId,
      score: r.score,
      version: r.version,
      ...explained(i),
    })),
  };
}

type Matrix = ReturnType<typeof buildFeatureMatrix>;

/** Explains each version's rows with that version; fills `into` by row index. */
async function explainRows(
  versions: readonly ServingVersion[],
  matrices: readonly Matrix[],
  assignment: readonly { version: string }[],
  into: (Explanation | undefined)[],
  model: string,
  only?: (version: ServingVersion) => boolean,
): Promise<void> {
  await Promise.all(
    versions.map(async (serving, v) => {
      const matrix = matrices[v]!;
      if (!matrix.ok || (only && !only(serving))) return;
      const picked = selectRows(assignment, serving.version).filter((i) => into[i] === undefined);
      if (picked.length === 0) return;
      const values = pickValues(matrix.values, matrix.columns, picked, assignment.length);
      const outcome = await serving.explain(values, picked.length);
      if (!outcome.ok) {
        throw new DriftlineError(
          "UNPROCESSABLE",
          `Model "${model}" version "${serving.version}" cannot explain this request: ${outcome.reason}`,
          { context: { model, version: serving.version } },
        );
      }
      const names = serving.manifest.features.map((f) => f.name);
      picked.forEach((rowIndex, j) => {
        into[rowIndex] = nameContributions(outcome.explanations[j]!, names);
      });
    }),
  );
}

/**
 * Records with their top reasons for the log. Rows the request did not explain are explained
 * here, after the response, when their version's method is exact (cheap); permutation-explained
 * models carry reasons only for rows the caller asked to explain.
 */
async function withLoggedReasons(
  records: PredictionRecord[],
  explanations: (Explanation | undefined)[],
  k: number,
  versions: readonly ServingVersion[],
  matrices: readonly Matrix[],
  assignment: readonly { version: string }[],
): Promise<PredictionRecord[]> {
  const all = [...explanations];
  await explainRows(versions, matrices, assignment, all, records[0]?.model ?? "", (serving) => {
    const method = serving.explanation.method;
    return method === "linear" || method === "tree";
  }).catch(() => undefined);
  return records.map((record, i) => {
    const explanation = all[i];
    return explanation === undefined ? record : { ...record, reasons: topReasons(explanation, k) };
  });
}

function selectRows(assignment: readonly { version: string }[], version: string): number[] {
  const picked: number[] = [];
  assignment.forEach((a, i) => {
    if (a.version === version) picked.push(i);
  });
  return picked;
}

/** Scores the picked rows of a full matrix. */
function scoreRows(
  serving: ServingVersion,
  values: Float32Array,
  columns: number,
  picked: readonly number[],
  totalRows: number,
): Promise<Float64Array> {
  return serving.score(pickValues(values, columns, picked, totalRows), picked.length);
}

/** The picked rows of a row-major matrix; no copy when every row is picked. */
function pickValues(
  values: Float32Array,
  columns: number,
  picked: readonly number[],
  totalRows: number,
): Float32Array {
  if (picked.length === totalRows) return values;
  const subset = new Float32Array(picked.length * columns);
  picked.forEach((rowIndex, j) => {
    subset.set(values.subarray(rowIndex * columns, (rowIndex + 1) * columns), j * columns);
  });
  return subset;
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
