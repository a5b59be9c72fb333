import { describe, expect, it } from "vitest";
import { loadRetrainingConfig } from "./config";

const BASE = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };

describe("loadRetrainingConfig", () => {
  it("has a default for everything but the database", () => {
    const c = loadRetrainingConfig(BASE);
    expect(c.kafka.groupId).toBe("driftline-retraining");
    expect(c.rollout.challengerShare).toBe(0.1);
    expect(c.decision).toEqual({
      alpha: 0.05,
      tau: 0.05,
      minSamplePerArm: 500,
      maxDurationMs: 14 * 86_400_000,
    });
    expect(c.worker.url).toBe("http://127.0.0.1:8787");
  });

  it("names every bad key at once", () => {
    expect(() =>
      loadRetrainingConfig({
        RETRAIN_CHALLENGER_SHARE: "1.5",
        RETRAIN_DECISION_ALPHA: "zero",
      }),
    ).toThrow(/DATABASE_URL[\s\S]*RETRAIN_CHALLENGER_SHARE[\s\S]*RETRAIN_DECISION_ALPHA/);
  });

  it("needs an ops token when the ops API listens beyond loopback", () => {
    expect(() => loadRetrainingConfig({ ...BASE, RETRAIN_API_HOST: "0.0.0.0" })).toThrow(
      /RETRAIN_OPS_TOKEN: is required/,
    );
    expect(
      loadRetrainingConfig({
        ...BASE,
        RETRAIN_API_HOST: "0.0.0.0",
        RETRAIN_OPS_TOKEN: "a-long-enough-token",
      }).api.opsToken,
    ).toBe("a-long-enough-token");
  });
});
