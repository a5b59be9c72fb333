import { describe, expect, it } from "vitest";
import { ConfigError } from "#core/errors";
import { loadStreamConfig } from "./config";

const minimal = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };

describe("loadStreamConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadStreamConfig(minimal);
    expect(c.database).toEqual({
      url: minimal.DATABASE_URL,
      schema: undefined,
      wsRelayUrl: undefined,
      poolMax: 8,
    });
    expect(c.kafka).toMatchObject({
      brokers: ["127.0.0.1:19092"],
      topicPrefix: "",
      ssl: false,
      sasl: undefined,
    });
    expect(c.consumer).toMatchObject({
      topics: ["events", "capi", "predictions", "models"],
      groupId: "driftline-stream-metrics",
      fromBeginning: true,
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      partitionsConcurrency: 9,
    });
    expect(c.pipeline).toMatchObject({
      eventValidation: "envelope",
      allowedLatenessMs: 120_000,
      dedupRetentionMs: 72 * 3_600_000,
    });
    expect(c.api).toMatchObject({ host: "127.0.0.1", port: 8788, readRoles: ["admin"] });
    expect(c.logLevel).toBe("info");
  });

  it("parses lists, booleans and numbers", () => {
    const c = loadStreamConfig({
      ...minimal,
      KAFKA_BROKERS: "a:1, b:2",
      STREAM_TOPICS: "events,predictions",
      STREAM_FROM_BEGINNING: "false",
      KAFKA_SSL: "1",
      STREAM_API_PORT: "0",
      STREAM_API_READ_ROLES: "admin,score",
      // Empty means unset, as .env files write it.
      DATABASE_SCHEMA: "",
    });
    expect(c.kafka.brokers).toEqual(["a:1", "b:2"]);
    expect(c.consumer.topics).toEqual(["events", "predictions"]);
    expect(c.consumer.fromBeginning).toBe(false);
    expect(c.kafka.ssl).toBe(true);
    expect(c.api.port).toBe(0);
    expect(c.api.readRoles).toEqual(["admin", "score"]);
    expect(c.database.schema).toBeUndefined();
  });

  it.each([
    [{}, ["DATABASE_URL"]],
    [{ ...minimal, DATABASE_URL: "mysql://x" }, ["DATABASE_URL"]],
    [{ ...minimal, STREAM_FROM_BEGINNING: "yes" }, ["STREAM_FROM_BEGINNING"]],
    [
      { ...minimal, STREAM_API_PORT: "70000", DATABASE_POOL_MAX: "x" },
      ["DATABASE_POOL_MAX", "STREAM_API_PORT"],
    ],
    [{ ...minimal, STREAM_TOPICS: "events,alerts" }, ["STREAM_TOPICS.1"]],
    [{ ...minimal, KAFKA_SASL_MECHANISM: "plain" }, ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"]],
    [{ ...minimal, KAFKA_SASL_PASSWORD: "s3cret" }, ["KAFKA_SASL_MECHANISM"]],
    [
      { ...minimal, STREAM_RETRY_INITIAL_MS: "5000", STREAM_RETRY_MAX_MS: "100" },
      ["STREAM_RETRY_MAX_MS"],
    ],
    [{ ...minimal, DATABASE_SCHEMA: "Bad-Name" }, ["DATABASE_SCHEMA"]],
  ])("names every bad key: %j", (env, keys) => {
    try {
      loadStreamConfig(env);
      expect.unreachable("should have thrown");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect(
        [...(((error as ConfigError).context?.keys as string[] | undefined) ?? [])].sort(),
      ).toEqual([...keys].sort());
      for (const key of keys) expect((error as Error).message).toContain(key);
    }
  });

  it("never echoes a secret value in the error", () => {
    expect(() => loadStreamConfig({ ...minimal, KAFKA_SASL_PASSWORD: "hunter2-secret" })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("hunter2-secret") }),
    );
  });

  it("requires an ops token when the API listens beyond loopback", () => {
    expect(() => loadStreamConfig({ ...minimal, STREAM_API_HOST: "0.0.0.0" })).toThrow(
      /STREAM_OPS_TOKEN: is required when STREAM_API_HOST \(0\.0\.0\.0\) is not loopback/,
    );
    const config = loadStreamConfig({
      ...minimal,
      STREAM_API_HOST: "0.0.0.0",
      STREAM_OPS_TOKEN: "a-long-ops-token-123",
    });
    expect(config.api.opsToken).toBe("a-long-ops-token-123");
    expect(config.api.tenantLabels).toBe(false);
    expect(
      loadStreamConfig({ ...minimal, STREAM_API_HOST: "127.0.0.2" }).api.opsToken,
    ).toBeUndefined();
  });

  it("refuses Kafka without TLS or SASL and the local relay in production", () => {
    expect(() =>
      loadStreamConfig({
        ...minimal,
        DRIFTLINE_ENV: "production",
        NEON_WS_RELAY_URL: "ws://127.0.0.1:5488",
      }),
    ).toThrow(
      /KAFKA_SSL: must be true[\s\S]*KAFKA_SASL_MECHANISM: must be set[\s\S]*NEON_WS_RELAY_URL: must not be set/,
    );
  });

  it("refuses the development webhook encryption key in production, and a key of the wrong size", () => {
    const production = {
      ...minimal,
      DRIFTLINE_ENV: "production",
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "p",
    };
    expect(() => loadStreamConfig(production)).toThrow(
      /WEBHOOK_ENCRYPTION_KEY: must be set to a secret of your own/,
    );
    const key = Buffer.alloc(32, 7).toString("base64");
    const c = loadStreamConfig({ ...production, WEBHOOK_ENCRYPTION_KEY: key });
    expect(c.production).toBe(true);
    expect(c.monitoring.webhooks.encryptionKey).toBe(key);
    expect(loadStreamConfig(minimal).production).toBe(false);
    expect(() =>
      loadStreamConfig({
        ...minimal,
        WEBHOOK_ENCRYPTION_KEY: Buffer.alloc(16).toString("base64"),
      }),
    ).toThrow(/WEBHOOK_ENCRYPTION_KEY: must be the base64 of 32 random bytes/);
  });

  it("reads the operator sink under its deprecated names too, and says so", () => {
    const secret = `whsec_${Buffer.alloc(32, 1).toString("base64")}`;
    const c = loadStreamConfig({
      ...minimal,
      MONITORING_WEBHOOK_URLS: "https://ops.example/hook",
      MONITORING_WEBHOOK_SECRET: secret,
    });
    expect(c.monitoring.webhooks.operator).toEqual({ urls: ["https://ops.example/hook"], secret });
    expect(c.deprecatedNames.map((d) => d.name)).toEqual([
      "MONITORING_WEBHOOK_URLS",
      "MONITORING_WEBHOOK_SECRET",
    ]);
    expect(() =>
      loadStreamConfig({ ...minimal, MONITORING_WEBHOOK_URLS: "https://ops.example/hook" }),
    ).toThrow(/MONITORING_OPERATOR_WEBHOOK_SECRET: is required/);
    expect(() =>
      loadStreamConfig({
        ...minimal,
        MONITORING_WEBHOOK_SECRET: secret,
        MONITORING_OPERATOR_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 2).toString("base64")}`,
      }),
    ).toThrow(/MONITORING_OPERATOR_WEBHOOK_SECRET: differs from its deprecated alias/);
    expect(loadStreamConfig(minimal).deprecatedNames).toEqual([]);
  });
});
