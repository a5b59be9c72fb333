/** PredictionLog on the ingest queue: one `predictions` message per scored row, sent in batches. */
import { type PredictionRecord, predictionKey } from "../core/scoring/prediction-record";
import type { IngestMessage } from "../queue/ingest-message";
import type { PredictionLog } from "../services";

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch call. */
const MAX_BATCH_MESSAGES = 100;
/** Headroom under 256 KB for the per-message overhead Queues adds. */
const MAX_BATCH_BYTES = 200_000;
/** A scheduled send older than this is presumed lost with its request; the next write replaces it. */
const STALE_SEND_MS = 10_000;

export interface QueuePredictionLogOptions {
  /**
   * How long a scheduled send waits for more rows before it goes out. Requests arriving in that
   * time add their rows to it instead of sending their own, so a busy isolate makes one queue
   * call per linger instead of one per request. 0 sends each request's rows at once.
   */
  lingerMs?: number;
}

/**
 * Group commit without cross-request waiting: a write either joins the send that another
 * request has scheduled and not yet taken its snapshot of, or schedules one in its own request
 * (returned for that request's `waitUntil`). Every row is therefore in exactly one send, and the
 * request that owns a send stays alive until it is done.
 */
export class QueuePredictionLog implements PredictionLog {
  private buffer: PredictionRecord[] = [];
  private scheduledAtMs: number | undefined;
  private readonly lingerMs: number;

  constructor(
    private readonly queue: Queue<IngestMessage>,
    options: QueuePredictionLogOptions = {},
    private readonly nowMs: () => number = Date.now,
  ) {
    this.lingerMs = options.lingerMs ?? 0;
  }

  /** Runs in the request: only buffers; messages are built when the send goes out. */
  write(records: readonly PredictionRecord[]): Promise<void> {
    for (const record of records) this.buffer.push(record);
    const now = this.nowMs();
    if (this.scheduledAtMs !== undefined && now - this.scheduledAtMs < STALE_SEND_MS) {
      return Promise.resolve();
    }
    this.scheduledAtMs = now;
    return this.sendAfterLinger();
  }

  private async sendAfterLinger(): Promise<void> {
    if (this.lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, this.lingerMs));
    const taken = this.buffer;
    this.buffer = [];
    this.scheduledAtMs = undefined;
    await this.send(taken);
  }

  private async send(records: readonly PredictionRecord[]): Promise<void> {
    const sends: Promise<unknown>[] = [];
    let batch: MessageSendRequest<IngestMessage>[] = [];
    let batchBytes = 0;
    for (const record of records) {
      const body: IngestMessage = {
        topic: "predictions",
        key: predictionKey(record),
        value: record,
      };
      // Rough size: the JSON text; Queues counts the serialised body.
      const bytes = JSON.stringify(body).length;
      if (
        batch.length === MAX_BATCH_MESSAGES ||
        (batch.length > 0 && batchBytes + bytes > MAX_BATCH_BYTES)
      ) {
        sends.push(this.queue.sendBatch(batch));
        batch = [];
        batchBytes = 0;
      }
      batch.push({ body, contentType: "json" });
      batchBytes += bytes;
    }
    if (batch.length > 0) sends.push(this.queue.sendBatch(batch));
    const results = await Promise.allSettled(sends);
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} of ${sends.length} prediction batches (${records.length} rows) were not queued: ${String((failed[0] as PromiseRejectedResult).reason)}`,
      );
    }
  }
}
