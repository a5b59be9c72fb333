// The Worker's webhook settings: the development encryption key works locally and is refused by
// name in production; a key that is not 32 bytes of base64 is refused everywhere.
import { describe, expect, it } from "vitest";
import { LOCAL_WEBHOOK_ENCRYPTION_KEY } from "#core/webhooks";
import { parseWorkerEnv } from "../env";

const binding = { get() {}, put() {}, send() {} };
const local = {
  MODELS: binding,
  INGEST_QUEUE: binding,
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079",
  UPSTASH_REDIS_REST_TOKEN: "driftline-local-token",
  KAFKA_REST_URL: "http://127.0.0.1:8082",
};
const ownKey = Buffer.alloc(32, 42).toString("base64");

const problem = (raw: Record<string, unknown>): string => {
  try {
    parseWorkerEnv(raw);
    return "";
  } catch (error) {
    return (error as Error).message;
  }
};

describe("WEBHOOK_ENCRYPTION_KEY", () => {
  it("defaults to the development key locally, with 20 endpoints and a 5 s test timeout", () => {
    const env = parseWorkerEnv(local);
    expect(env.WEBHOOK_ENCRYPTION_KEY).toBe(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    expect(env.WEBHOOK_MAX_ENDPOINTS_PER_TENANT).toBe(20);
    expect(env.WEBHOOK_TEST_TIMEOUT_MS).toBe(5_000);
  });

  it.each([
    ["unset", undefined],
    ["the development key", LOCAL_WEBHOOK_ENCRYPTION_KEY],
  ])("is refused by name in production when %s", (_what, value) => {
    const message = problem({
      ...local,
      DRIFTLINE_ENV: "production",
      ...(value === undefined ? {} : { WEBHOOK_ENCRYPTION_KEY: value }),
    });
    expect(message).toMatch(/WEBHOOK_ENCRYPTION_KEY: must be set to a secret of your own/);
  });

  it("is accepted in production when it is the operator's own", () => {
    const production = {
      ...local,
      DRIFTLINE_ENV: "production",
      UPSTASH_REDIS_REST_URL: "https://eu1.upstash.example",
      UPSTASH_REDIS_REST_TOKEN: "a-real-token",
      KAFKA_REST_URL: "https://pkc.confluent.example:443/kafka",
      KAFKA_REST_API_KEY: "key",
      KAFKA_REST_API_SECRET: "secret",
      ENTITY_ID_KEY: "a-long-random-secret-key",
    };
    expect(problem({ ...production, WEBHOOK_ENCRYPTION_KEY: ownKey })).toBe("");
  });

  it.each([Buffer.alloc(16).toString("base64"), "not base64 at all, not at all, not at all!!"])(
    "refuses %j anywhere",
    (value) => {
      expect(problem({ ...local, WEBHOOK_ENCRYPTION_KEY: value })).toMatch(
        /WEBHOOK_ENCRYPTION_KEY: must be the base64 of 32 random bytes/,
      );
    },
  );
});
