/** Kafka topic names (with the deployment prefix) and idempotent topic creation over an admin port. */
export * from "./dead-letter-headers.ts";
export * from "./ensure-topics.ts";
export * from "./topic-names.ts";
