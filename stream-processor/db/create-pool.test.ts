/** createNeonPool's input checks and DATABASE_URL helpers; no database needed. */
import { describe, expect, it } from "vitest";
import { databaseTarget, parseDatabaseUrl, redactDatabaseUrl } from "#core/config";
import { ConfigError } from "#core/errors";
import { createNeonPool } from "./create-pool";

describe("parseDatabaseUrl", () => {
  it.each([
    ["not a url", /DATABASE_URL is not a URL/],
    ["mysql://root@127.0.0.1/db", /must start with postgres:\/\//],
    ["postgres:///db", /has no host/],
  ])("rejects %s with a ConfigError naming the variable", (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(ConfigError);
    expect(() => parseDatabaseUrl(url)).toThrow(message);
  });

  it("accepts postgres:// and postgresql://", () => {
    expect(parseDatabaseUrl("postgres://u@h:1/d").hostname).toBe("h");
    expect(parseDatabaseUrl("postgresql://u@h/d").hostname).toBe("h");
  });
});

describe("databaseTarget", () => {
  it.each([
    ["postgres://u@127.0.0.1:5499/postgres", "127.0.0.1:5499"],
    ["postgres://u@db.example/app", "db.example:5432"],
    ["postgres://u@[::1]:6000/app", "::1:6000"],
  ])("%s -> %s", (url, target) => {
    expect(databaseTarget(url)).toBe(target);
  });
});

describe("redactDatabaseUrl", () => {
  it("hides the password and keeps the rest", () => {
    expect(redactDatabaseUrl("postgres://app:s3cret@db:5432/x?sslmode=require")).toBe(
      "postgres://app:***@db:5432/x?sslmode=require",
    );
    expect(redactDatabaseUrl("postgres://app@db/x")).toBe("postgres://app@db/x");
  });
});

describe("createNeonPool", () => {
  it.each([
    [{ databaseUrl: "http://db/x" }, /DATABASE_URL must start with postgres/],
    [
      { databaseUrl: "postgres://u@db/x", wsRelayUrl: "http://127.0.0.1:5488" },
      /ws:\/\/ or wss:\/\//,
    ],
    [{ databaseUrl: "postgres://u@db/x", wsRelayUrl: "::" }, /is not a URL/],
    [{ databaseUrl: "postgres://u@db/x", schema: "Bad-Name" }, /Invalid schema/],
  ])("rejects bad options with a ConfigError (%o)", (options, message) => {
    expect(() => createNeonPool(options)).toThrow(ConfigError);
    expect(() => createNeonPool(options)).toThrow(message);
  });

  it("points each connection at the relay without Neon's pipelining", async () => {
    const pool = createNeonPool({
      databaseUrl: "postgres://u@db:6543/x",
      wsRelayUrl: "ws://127.0.0.1:5488",
    });
    // A client made the way pg-pool makes one, inspected without connecting.
    const client = new pool.Client({ connectionString: "postgres://u@db:6543/x" });
    expect(client.neonConfig.wsProxyAddrForHost("db", 6543)).toBe(
      "127.0.0.1:5488/v2?address=db:6543",
    );
    expect(client.neonConfig.useSecureWebSocket).toBe(false);
    expect(client.neonConfig.pipelineConnect).toBe(false);
    expect(client.neonConfig.pipelineTLS).toBe(false);
    expect(client.neonConfig.coalesceWrites).toBe(false);
    await pool.end();
  });

  it("leaves Neon's defaults (and the global neonConfig) alone without a relay", async () => {
    const pool = createNeonPool({ databaseUrl: "postgres://u@ep-x.neon.tech/x" });
    const client = new pool.Client({ connectionString: "postgres://u@ep-x.neon.tech/x" });
    expect(client.neonConfig.useSecureWebSocket).toBe(true);
    expect(client.neonConfig.pipelineConnect).toBe("password");
    expect(client.neonConfig.wsProxyAddrForHost("ep-x.neon.tech", 5432)).toBe("ep-x.neon.tech/v2");
    await pool.end();
  });
});
