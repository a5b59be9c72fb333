/** What the request handlers put on the ingest queue: Kafka records bound for a logical topic, one or a bundle per message. */
import { z } from "zod";

// `models`: model registry notices (src/core/model-registry-message.ts), which the consumer
// expands with the manifest before producing them.
export const IngestTopic = z.enum(["events", "capi", "predictions", "models"]);
export type IngestTopic = z.infer<typeof IngestTopic>;

export const IngestMessage = z.object({
  topic: IngestTopic,
  /** Kafka message key: `tenant:event_id`, `tenant:prediction_id` or `tenant:model` (models). */
  key: z.string().min(1),
  /** The JSON record value; already free of raw PII. */
  value: z.unknown(),
  headers: z.record(z.string(), z.string()).optional(),
});
export type IngestMessage = z.infer<typeof IngestMessage>;

/**
 * Many records in one queue message (see `src/queue/send-ingest-bundles.ts` for why). The
 * envelope is checked here; each record is checked on its own with `IngestMessage`, so one bad
 * record does not cost the others.
 */
export const IngestBundleEnvelope = z.object({
  /** Format version; a body with a `bundle` field is a bundle, any other is one `IngestMessage`. */
  bundle: z.literal(1),
  /**
   * Deliveries these records already had in earlier queue messages: 0 when the Worker sends
   * them, more when the consumer puts the unproduced rest of a bundle back on the queue.
   */
  attempts: z.number().int().min(0),
  records: z.array(z.unknown()).min(1),
});
export type IngestBundleEnvelope = z.infer<typeof IngestBundleEnvelope>;
