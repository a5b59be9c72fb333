/** Target parsing and the allow-list of the Neon WebSocket relay. */
import { describe, expect, it } from "vitest";
import { loadLocalStackConfig } from "./config";
import { defaultRelayAllowList, normalizeTarget, parseRelayTarget } from "./neon-ws-relay";

describe("normalizeTarget", () => {
  it.each([
    ["127.0.0.1:5432", "127.0.0.1:5432"],
    ["LocalHost:5499", "localhost:5499"],
    ["[::1]:5432", "::1:5432"],
    ["::1:5432", "::1:5432"],
  ])("%s -> %s", (input, expected) => {
    expect(normalizeTarget(input)).toBe(expected);
  });

  it.each(["", "host", ":5432", "host:", "host:0", "host:65536", "host:54x"])(
    "rejects %j",
    (input) => {
      expect(normalizeTarget(input)).toBeUndefined();
    },
  );
});

describe("parseRelayTarget", () => {
  const allow = new Set(["127.0.0.1:5432", "localhost:5499"]);

  it("accepts an allowed address on /v2", () => {
    expect(parseRelayTarget("/v2?address=127.0.0.1:5432", allow)).toEqual({
      ok: true,
      target: { host: "127.0.0.1", port: 5432 },
    });
    expect(parseRelayTarget("/v2?address=LOCALHOST:5499", allow)).toEqual({
      ok: true,
      target: { host: "localhost", port: 5499 },
    });
  });

  it("refuses other paths, bad and unlisted addresses", () => {
    expect(parseRelayTarget("/v1?address=127.0.0.1:5432", allow)).toMatchObject({
      ok: false,
      status: 404,
    });
    expect(parseRelayTarget("/v2", allow)).toMatchObject({ ok: false, status: 400 });
    expect(parseRelayTarget("/v2?address=127.0.0.1", allow)).toMatchObject({
      ok: false,
      status: 400,
    });
    expect(parseRelayTarget("/v2?address=127.0.0.1:22", allow)).toMatchObject({
      ok: false,
      status: 403,
      message: expect.stringContaining("127.0.0.1:22 is not in the relay's allow-list"),
    });
    expect(parseRelayTarget("/v2?address=10.0.0.1:5432", allow)).toMatchObject({
      ok: false,
      status: 403,
    });
  });
});

describe("defaultRelayAllowList", () => {
  it("allows the machine's Postgres and PGlite on loopback", () => {
    const config = loadLocalStackConfig({ PGLITE_PORT: "6000" });
    expect(defaultRelayAllowList(config).sort()).toEqual(
      ["127.0.0.1:5432", "127.0.0.1:6000", "localhost:5432", "localhost:6000"].sort(),
    );
  });

  it("adds the host:port of DATABASE_URL", () => {
    const config = loadLocalStackConfig({ DATABASE_URL: "postgres://app:pw@db.internal/app" });
    expect(defaultRelayAllowList(config)).toContain("db.internal:5432");
  });
});
