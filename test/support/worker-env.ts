/** Worker environments for tests of its env schema: the local stack's, and a secure production one. */

const binding = { get() {}, put() {}, send() {} };

/** What the local stack hands the Worker (plain http, the local Upstash token). */
export const LOCAL_WORKER_ENV = {
  MODELS: binding,
  INGEST_QUEUE: binding,
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079",
  UPSTASH_REDIS_REST_TOKEN: "driftline-local-token",
  KAFKA_REST_URL: "http://127.0.0.1:8082",
};

/** Every setting production mode requires, set to an operator's own values. */
export const PRODUCTION_WORKER_ENV = {
  ...LOCAL_WORKER_ENV,
  DRIFTLINE_ENV: "production",
  UPSTASH_REDIS_REST_URL: "https://eu1.upstash.example",
  UPSTASH_REDIS_REST_TOKEN: "a-real-token",
  KAFKA_REST_URL: "https://pkc.confluent.example:443/kafka",
  KAFKA_REST_API_KEY: "key",
  KAFKA_REST_API_SECRET: "secret",
  ENTITY_ID_KEY: "a-long-random-secret-key",
  WEBHOOK_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
  DESTINATION_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString("base64"),
};
