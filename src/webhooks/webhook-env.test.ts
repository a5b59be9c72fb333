// The Worker's webhook settings: the development encryption key works locally and is refused by
// name in production; a key that is not 32 bytes of base64 is refused everywhere.
import { describe, expect, it } from "vitest";
import { LOCAL_WEBHOOK_ENCRYPTION_KEY } from "#core/webhooks";
import { LOCAL_WORKER_ENV, PRODUCTION_WORKER_ENV } from "../../test/support/worker-env";
import { parseWorkerEnv } from "../env";

const local = LOCAL_WORKER_ENV;
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
    expect(problem({ ...PRODUCTION_WORKER_ENV, WEBHOOK_ENCRYPTION_KEY: ownKey })).toBe("");
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
