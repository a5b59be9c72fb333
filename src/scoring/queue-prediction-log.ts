/** PredictionLog on the ingest queue: one `predictions` message per scored row, sent in batches. */
import { type PredictionRecord, predictionKey } from "../core/scoring/prediction-record";
import type { IngestMessage } from "../queue/ingest-message";
import type { PredictionLog } from "../services";

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch call. */
const MAX_BATCH_MESSAGES = 100;
/** Headroom under 256 KB for the per-message overhead Queues adds. */
const MAX_BATCH_BYTES = 200_000;

export class QueuePredictionLog implements PredictionLog {
  constructor(private readonly queue: Queue<IngestMessage>) {}

  async write(records: readonly PredictionRecord[]): Promise<void> {
    let batch: MessageSendRequest<IngestMessage>[] = [];
    let batchBytes = 0;
    const sends: Promise<unknown>[] = [];
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
        `${failed.length} of ${sends.length} prediction batches were not queued: ${String((failed[0] as PromiseRejectedResult).reason)}`,
      );
    }
  }
}
