/** The score-jobs queue consumer: each message one chunk, acked once counted, retried while it may succeed. */
import { DriftlineError } from "#core/errors";
import { scoreJobMessageSchema } from "#core/score-jobs";
import type { ModelRegistry } from "../model-registry/model-registry";
import { failChunk, scoreJobChunk } from "./score-job-chunk";
import type { ScoreJobServices } from "./score-job-store";

export interface ScoreJobBatchDeps {
  jobs: Pick<ScoreJobServices, "open" | "objects">;
  models: Pick<ModelRegistry, "serving">;
  /**
   * Deliveries after which a chunk that still fails is counted failed (its rows carry the
   * reason), so its job finishes: the queue's max_retries + 1.
   */
  maxAttempts: number;
  log: (entry: Record<string, unknown>) => void;
}

export interface ScoreJobBatchResult {
  chunks: number;
  rows: number;
  skipped: number;
  retried: number;
  failedChunks: number;
}

/** Longest backoff between deliveries of a failing chunk. */
const MAX_RETRY_DELAY_SECONDS = 300;

/**
 * Chunks run one after another: scoring is CPU-bound in one isolate, and a batch's chunks share
 * its database connection. A malformed message is acked and logged (retrying cannot fix it).
 */
export async function consumeScoreJobBatch(
  messages: readonly Message<unknown>[],
  deps: ScoreJobBatchDeps,
): Promise<ScoreJobBatchResult> {
  const result: ScoreJobBatchResult = {
    chunks: 0,
    rows: 0,
    skipped: 0,
    retried: 0,
    failedChunks: 0,
  };
  const store = deps.jobs.open();
  try {
    for (const message of messages) {
      const parsed = scoreJobMessageSchema.safeParse(message.body);
      if (!parsed.success) {
        deps.log({
          level: "error",
          msg: "score job message is malformed; dropped",
          id: message.id,
        });
        message.ack();
        continue;
      }
      const body = parsed.data;
      const chunkDeps = { store, objects: deps.jobs.objects, models: deps.models };
      try {
        const outcome = await scoreJobChunk(chunkDeps, body);
        if (outcome.kind === "skipped") result.skipped += 1;
        else {
          result.chunks += 1;
          result.rows += outcome.rows;
        }
        message.ack();
      } catch (error) {
        const retryable = !(error instanceof DriftlineError) || error.retryable;
        const reason = error instanceof Error ? error.message : String(error);
        deps.log({
          level: retryable ? "warn" : "error",
          msg: "score job chunk failed",
          tenant: body.tenant,
          jobId: body.jobId,
          chunk: body.chunk,
          attempts: message.attempts,
          error: reason,
        });
        if (retryable && message.attempts < deps.maxAttempts) {
          result.retried += 1;
          message.retry({
            delaySeconds: Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** message.attempts),
          });
          continue;
        }
        // Not retryable (the version is gone) or out of deliveries: the rows fail with the reason.
        try {
          const pending = await store.pendingChunk(body.tenant, body.jobId, body.chunk);
          const job = await store.getJob(body.tenant, body.jobId);
          if (pending !== undefined && job !== undefined) {
            await failChunk(chunkDeps, job, pending, "(chunk)", `not scored: ${reason}`);
            result.failedChunks += 1;
          }
          message.ack();
        } catch {
          message.retry({ delaySeconds: MAX_RETRY_DELAY_SECONDS });
          result.retried += 1;
        }
      }
    }
  } finally {
    await store.close().catch(() => undefined);
  }
  return result;
}
