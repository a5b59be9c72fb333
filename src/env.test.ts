/** The Worker's environment in production mode: insecure local settings are refused by name. */
import { describe, expect, it } from "vitest";
import { LOCAL_WORKER_ENV, PRODUCTION_WORKER_ENV } from "../test/support/worker-env";
import { parseWorkerEnv } from "./env";

const local = LOCAL_WORKER_ENV;

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
      "DESTINATION_ENCRYPTION_KEY",
      "NEON_WS_RELAY_URL",
    ]) {
      expect(message).toContain(`${key}:`);
    }
  });

  it("accepts a production setup", () => {
    const env = parseWorkerEnv(PRODUCTION_WORKER_ENV);
    expect(env.ENTITY_ID_KEY).toBe("a-long-random-secret-key");
  });
});

describe("SCORE_JOB_RETENTION_DAYS", () => {
  it("defaults to 30 days, takes 0 (keep forever) and refuses a negative or fractional value", () => {
    expect(parseWorkerEnv(local).SCORE_JOB_RETENTION_DAYS).toBe(30);
    expect(
      parseWorkerEnv({ ...local, SCORE_JOB_RETENTION_DAYS: "0" }).SCORE_JOB_RETENTION_DAYS,
    ).toBe(0);
    expect(() => parseWorkerEnv({ ...local, SCORE_JOB_RETENTION_DAYS: "-1" })).toThrow(
      /SCORE_JOB_RETENTION_DAYS/,
    );
    expect(() => parseWorkerEnv({ ...local, SCORE_JOB_RETENTION_DAYS: "1.5" })).toThrow(
      /SCORE_JOB_RETENTION_DAYS/,
    );
  });
});
