/**
 * The headers of a dead letter on the `dlq` topic: why the record was refused and where it came
 * from (values are UTF-8 text). Written by the stream processor and the delivery service, read
 * by `driftline dlq`.
 */
export const DLQ_HEADERS = {
  reason: "driftline-dlq-reason",
  stage: "driftline-dlq-stage",
  topic: "driftline-dlq-original-topic",
  partition: "driftline-dlq-original-partition",
  offset: "driftline-dlq-original-offset",
  consumerGroup: "driftline-dlq-consumer-group",
  failedAt: "driftline-dlq-failed-at",
} as const;

/** Set on a letter whose value was cut to fit Kafka's message size: the original value's size in bytes. */
export const DLQ_TRUNCATED_HEADER = "driftline-dlq-truncated-from-bytes";

/** Set on a record `driftline dlq replay` sent back to its topic: the letter it came from (`dlq:<partition>:<offset>`). */
export const DLQ_REPLAYED_FROM_HEADER = "driftline-dlq-replayed-from";
