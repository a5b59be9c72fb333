import { describe, expect, it } from "vitest";
import { ConfigError } from "#core/errors";
import { parseGatewayConfig } from "./gateway-config";

describe("parseGatewayConfig", () => {
  it("defaults to the local stack", () => {
    const config = parseGatewayConfig({});
    expect(config).toMatchObject({
      KAFKA_BROKERS: ["127.0.0.1:19092"],
      KAFKA_REST_PORT: 8082,
      KAFKA_REST_HOST: "127.0.0.1",
      KAFKA_TOPIC_PREFIX: "",
      KAFKA_REST_CLUSTER_ID: "driftline",
      KAFKA_REST_MAX_BODY_BYTES: 1024 * 1024,
      KAFKA_REST_MAX_BATCH_ENTRIES: 100,
      KAFKA_SSL: false,
    });
    expect(config.KAFKA_REST_API_KEY).toBeUndefined();
  });

  it("splits brokers and treats empty credentials as unset", () => {
    const config = parseGatewayConfig({
      KAFKA_BROKERS: " a:9092, b:9093 ",
      KAFKA_REST_API_KEY: "",
      KAFKA_REST_API_SECRET: "",
    });
    expect(config.KAFKA_BROKERS).toEqual(["a:9092", "b:9093"]);
    expect(config.KAFKA_REST_API_KEY).toBeUndefined();
  });

  it("names every bad key at once", () => {
    let error: unknown;
    try {
      parseGatewayConfig({
        KAFKA_BROKERS: "no-port",
        KAFKA_REST_PORT: "eighty",
        KAFKA_REST_API_KEY: "key-only",
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/KAFKA_BROKERS\.0: each broker must be host:port/);
    expect(message).toMatch(/KAFKA_REST_PORT:/);
    expect(message).toMatch(/KAFKA_REST_API_SECRET: set both API key and secret, or neither/);
  });

  it("requires SASL credentials with a SASL mechanism", () => {
    expect(() => parseGatewayConfig({ KAFKA_SASL_MECHANISM: "plain" })).toThrow(
      /KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    );
  });

  it("refuses to run unauthenticated or without Kafka TLS and SASL in production", () => {
    expect(() => parseGatewayConfig({ DRIFTLINE_ENV: "production" })).toThrow(
      /KAFKA_REST_API_KEY: must be set.*\n.*KAFKA_REST_API_SECRET.*\n.*KAFKA_SSL: must be true.*\n.*KAFKA_SASL_MECHANISM/s,
    );
    expect(
      parseGatewayConfig({
        DRIFTLINE_ENV: "production",
        KAFKA_REST_API_KEY: "k",
        KAFKA_REST_API_SECRET: "s",
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "plain",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p",
      }).KAFKA_SSL,
    ).toBe(true);
  });
});
