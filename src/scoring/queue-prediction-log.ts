/** PredictionLog on the ingest queue: scored rows as `predictions` records, many to a queue message. */
import { type PredictionRecord, predictionKey } from "#core/scoring";
import { ingestMessageText } from "../queue/ingest-queue-body";
import { type IngestBatchQueue, sendIngestBundles } from "../queue/send-ingest-bundles";
import type { PredictionLog } from "./scoring-ports";

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
    private readonly queue: IngestBatchQueue,
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

  /**
   * Rows go out bundled like events (see `sendIngestBundles`): a 1000-row score request is a few
   * queue messages, not 1000 of the queue's ~5,000 messages per second.
   */
  private async send(records: readonly PredictionRecord[]): Promise<void> {
    if (records.length === 0) return;
    const texts = records.map((record) =>
      ingestMessageText("predictions", predictionKey(record), JSON.stringify(record)),
    );
    const { notQueued, reason } = await sendIngestBundles(this.queue, texts);
    if (notQueued.length > 0) {
      throw new Error(
        `${notQueued.length} of ${records.length} prediction rows were not queued: ${reason}`,
      );
    }
  }
}
