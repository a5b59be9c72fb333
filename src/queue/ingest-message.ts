/** What the request handlers put on the ingest queue: one Kafka record bound for a logical topic. */
import { z } from "zod";

export const IngestTopic = z.enum(["events", "capi", "predictions"]);
export type IngestTopic = z.infer<typeof IngestTopic>;

export const IngestMessage = z.object({
  topic: IngestTopic,
  /** Kafka message key: `tenant:event_id` or `tenant:prediction_id`. */
  key: z.string().min(1),
  /** The JSON record value; already free of raw PII. */
  value: z.unknown(),
  headers: z.record(z.string(), z.string()).optional(),
});
export type IngestMessage = z.infer<typeof IngestMessage>;
