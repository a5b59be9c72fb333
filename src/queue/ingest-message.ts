/** What the request handlers put on the ingest queue: one Kafka record bound for a logical topic. */
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
