/** The Worker's environment in production mode: insecure local settings are refused by name. */
import { describe, expect, it } from "vitest";
import { parseWorkerEnv } from "./env";

const binding = { get() {}, put() {}, send() {} };
const local = {
  MODELS: binding,
  INGEST_QUEUE: binding,
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079",
  UPSTASH_REDIS_REST_TOKEN: "driftline-local-token",
  KAFKA_REST_URL: "http://127.0.0.1:8082",
};

describe("parseWorkerEnv with DRIFTLINE_ENV=production", () => {
  it("accepts the local settings locally", () => {
    expect(parseWorkerEnv(local).UPSTASH_REDIS_REST_URL).toBe("http://127.0.0.1:8079");
  });

  it("names every setting that only suits a local run", () => {
    let message = "";
    try {
      parseWorkerEnv({
        ...local,
        DRIFTLINE_ENV: "production",
        NEON_WS_RELAY_URL: "ws://127.0.0.1:5488",
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const key of [
      "UPSTASH_REDIS_REST_URL",
      "UPSTASH_REDIS_REST_TOKEN",
      "KAFKA_REST_URL",
      "KAFKA_REST_API_KEY",
      "KAFKA_REST_API_SECRET",
      "ENTITY_ID_KEY",
      "WEBHOOK_ENCRYPTION_KEY",
      "NEON_WS_RELAY_URL",
    ]) {
      expect(message).toContain(`${key}:`);
    }
  });

  it("accepts a production setup", () => {
    const env = parseWorkerEnv({
      ...local,
      DRIFTLINE_ENV: "production",
      UPSTASH_REDIS_REST_URL: "https://eu1.upstash.example",
      UPSTASH_REDIS_REST_TOKEN: "a-real-token",
      KAFKA_REST_URL: "https://pkc.confluent.example:443/kafka",
      KAFKA_REST_API_KEY: "key",
      KAFKA_REST_API_SECRET: "secret",
      ENTITY_ID_KEY: "a-long-random-secret-key",
      WEBHOOK_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
    });
    expect(env.ENTITY_ID_KEY).toBe("a-long-random-secret-key");
  });
});
