/** The consumer verb of a bulk scoring job: score one chunk, write its results, count it once. */
import { DriftlineError } from "#core/errors";
import {
  csvRowEncoder,
  type EncodedJobRow,
  errorResult,
  JOB_SCORE_BATCH_ROWS,
  type JobResult,
  MAX_LISTED_ROW_ERRORS,
  ndjsonRow,
  RecordSplitter,
  type RowError,
  readCsvHeader,
  resultNdjsonLine,
  type ScoreJobMessage,
} from "#core/score-jobs";
import type { ModelRegistry, ServingVersion } from "../model-registry/model-registry";
import { MAX_RECORD_CHARS } from "./receive-score-job";
import type { ScoreJob, ScoreJobChunk, ScoreJobObjects, ScoreJobStore } from "./score-job-store";

export interface ScoreJobChunkDeps {
  store: ScoreJobStore;
  objects: ScoreJobObjects;
  models: Pick<ModelRegistry, "serving">;
}

export type ChunkResult =
  | { kind: "scored"; rows: number; scored: number; failed: number }
  /** Already done (a redelivery) or the job is gone: nothing to do. */
  | { kind: "skipped" };

/**
 * Scores the chunk with the job's version through the same scorer as POST /v1/score (the direct
 * evaluator for linear and tree graphs, ORT otherwise), JOB_SCORE_BATCH_ROWS rows per call. The
 * results object is written before the chunk is counted, under a key of its own, so a retry
 * after any failure rewrites it and counts the chunk exactly once.
 */
export async function scoreJobChunk(
  deps: ScoreJobChunkDeps,
  message: ScoreJobMessage,
): Promise<ChunkResult> {
  const { tenant, jobId, chunk } = message;
  const pending = await deps.store.pendingChunk(tenant, jobId, chunk);
  if (pending === undefined) return { kind: "skipped" };
  const job = await deps.store.startJob(tenant, jobId);
  if (job === undefined) return { kind: "skipped" };
  const text = await deps.objects.getInput(tenant, jobId, chunk);
  if (text === undefined) {
    return failChunk(deps, job, pending, "(chunk)", "the uploaded rows of this chunk are missing");
  }
  const serving = await deps.models.serving(tenant, job.model, job.version);
  const { lines, scored, failed, errors } = await scoreText(serving, job, pending, text);
  await deps.objects.putResults(tenant, jobId, chunk, lines);
  await deps.store.completeChunk({ tenant, jobId, chunk, scored, failed, errors });
  return { kind: "scored", rows: pending.rows, scored, failed };
}

/**
 * Counts every row of the chunk failed with one reason (its model version gone, its rows lost, or
 * every delivery failing): the job finishes rather than waiting for a chunk that cannot score.
 */
export async function failChunk(
  deps: Pick<ScoreJobChunkDeps, "store" | "objects">,
  job: ScoreJob,
  pending: ScoreJobChunk,
  field: string,
  message: string,
): Promise<ChunkResult> {
  let lines = "";
  const errors: RowError[] = [];
  for (let r = 0; r < pending.rows; r++) {
    const error = { row: pending.firstRow + r, field, message };
    if (errors.length < MAX_LISTED_ROW_ERRORS) errors.push(error);
    lines += resultNdjsonLine(errorResult(error));
  }
  await deps.objects.putResults(job.tenant, job.id, pending.chunk, lines);
  await deps.store.completeChunk({
    tenant: job.tenant,
    jobId: job.id,
    chunk: pending.chunk,
    scored: 0,
    failed: pending.rows,
    errors,
  });
  return { kind: "scored", rows: pending.rows, scored: 0, failed: pending.rows };
}

async function scoreText(
  serving: ServingVersion,
  job: ScoreJob,
  pending: ScoreJobChunk,
  text: string,
): Promise<{ lines: string; scored: number; failed: number; errors: RowError[] }> {
  const features = serving.manifest.features;
  const splitter = new RecordSplitter(job.format, MAX_RECORD_CHARS);
  const records = [...splitter.push(text, pending.firstRow), ...splitter.end(pending.firstRow)];
  const encodeCsv =
    job.format === "csv"
      ? csvRowEncoder(readCsvHeader(records.shift() ?? "", features), features)
      : undefined;

  const results: JobResult[] = new Array(records.length);
  const good: { index: number; row: EncodedJobRow }[] = [];
  records.forEach((record, i) => {
    const row = pending.firstRow + i;
    const outcome =
      encodeCsv === undefined ? ndjsonRow(record, row, features) : encodeCsv(record, row);
    if (outcome.ok) good.push({ index: i, row: outcome.row });
    else results[i] = errorResult(outcome.error, outcome.entityId);
  });

  const columns = features.length;
  for (let start = 0; start < good.length; start += JOB_SCORE_BATCH_ROWS) {
    const batch = good.slice(start, start + JOB_SCORE_BATCH_ROWS);
    const values = new Float32Array(batch.length * columns);
    batch.forEach((g, j) => {
      values.set(g.row.values, j * columns);
    });
    const scores = await serving.score(values, batch.length);
    batch.forEach((g, j) => {
      const score = scores[j]!;
      const id = g.row.entityId === undefined ? {} : { entityId: g.row.entityId };
      results[g.index] = Number.isFinite(score)
        ? { row: g.row.row, ...id, score }
        : {
            row: g.row.row,
            ...id,
            error: { field: "(score)", message: "the model returned a non-finite score" },
          };
    });
  }

  let lines = "";
  let failed = 0;
  const errors: RowError[] = [];
  for (const result of results) {
    if (result === undefined) throw new DriftlineError("INTERNAL", "a row was left unscored");
    lines += resultNdjsonLine(result);
    if ("error" in result) {
      failed += 1;
      if (errors.length < MAX_LISTED_ROW_ERRORS) errors.push({ row: result.row, ...result.error });
    }
  }
  return { lines, scored: results.length - failed, failed, errors };
}
