import { describe, expect, it } from "vitest";
import { ConfigError } from "#core/errors";
import { ConsoleSessions, readSessionCookie, SESSION_COOKIE } from "./console-sessions";

const LOCAL = new URL("http://127.0.0.1:8787/dashboard");
const PUBLIC = new URL("https://driftline.example/dashboard");
const KEY = {
  tenant: "acme",
  keyId: "key_0123456789abcdef",
  keyHash: "a".repeat(64),
  roles: ["read"] as const,
};
const SECRET = "s".repeat(32);

function sessions(nowMs = 1_000_000, secret: string | undefined = SECRET) {
  return new ConsoleSessions({ secret, ttlMs: 60_000, nowMs: () => nowMs });
}

describe("console sessions", () => {
  it("verifies its own cookie and nothing else", async () => {
    const s = sessions();
    const { cookieValue, session } = await s.issue(PUBLIC, { ...KEY, roles: [...KEY.roles] });
    expect(await s.verify(PUBLIC, cookieValue)).toEqual(session);
    const [payload, mac] = cookieValue.split(".");
    const forged = Buffer.from(JSON.stringify({ ...session, tenant: "other" })).toString(
      "base64url",
    );
    expect(await s.verify(PUBLIC, `${forged}.${mac}`)).toBeUndefined();
    expect(await s.verify(PUBLIC, `${payload}.${"A".repeat(43)}`)).toBeUndefined();
    expect(await s.verify(PUBLIC, `${payload}`)).toBeUndefined();
    expect(await s.verify(PUBLIC, "%%%.***")).toBeUndefined();
    // Another secret, another signature.
    expect(await sessions(1_000_000, "t".repeat(32)).verify(PUBLIC, cookieValue)).toBeUndefined();
  });

  it("never carries the key, and expires after its ttl", async () => {
    const { cookieValue } = await sessions().issue(PUBLIC, { ...KEY, roles: ["read"] });
    const payload = Buffer.from(cookieValue.split(".")[0]!, "base64url").toString();
    expect(Object.keys(JSON.parse(payload)).sort()).toEqual(
      ["expiresAtMs", "keyHash", "keyId", "roles", "sessionId", "tenant"].sort(),
    );
    expect(await sessions(1_000_000 + 59_999).verify(PUBLIC, cookieValue)).toBeDefined();
    expect(await sessions(1_000_000 + 60_000).verify(PUBLIC, cookieValue)).toBeUndefined();
  });

  it("derives a CSRF token per session", async () => {
    const s = sessions();
    const a = (await s.issue(PUBLIC, { ...KEY, roles: ["read"] })).session;
    const b = (await s.issue(PUBLIC, { ...KEY, roles: ["read"] })).session;
    const token = await s.csrfToken(PUBLIC, a);
    expect(await s.checkCsrfToken(PUBLIC, a, token)).toBe(true);
    expect(await s.checkCsrfToken(PUBLIC, b, token)).toBe(false);
    expect(await s.checkCsrfToken(PUBLIC, a, undefined)).toBe(false);
    // A different first character (its 6 bits all count, unlike the last one's padding bits).
    const forged = `${token.startsWith("A") ? "B" : "A"}${token.slice(1)}`;
    expect(await s.checkCsrfToken(PUBLIC, a, forged)).toBe(false);
  });

  it("needs CONSOLE_SESSION_SECRET except on loopback hosts", async () => {
    const s = new ConsoleSessions({ secret: undefined, ttlMs: 60_000 });
    const { cookieValue } = await s.issue(LOCAL, { ...KEY, roles: ["read"] });
    expect(await s.verify(LOCAL, cookieValue)).toBeDefined();
    await expect(s.issue(PUBLIC, { ...KEY, roles: ["read"] })).rejects.toThrow(ConfigError);
  });

  it("sets Secure except over http on loopback", () => {
    const s = sessions();
    expect(s.cookie(PUBLIC, "v", 60)).toBe(
      `${SESSION_COOKIE}=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure`,
    );
    expect(s.cookie(LOCAL, "v", 60)).not.toContain("Secure");
    expect(readSessionCookie(`a=1; ${SESSION_COOKIE}=xyz.abc; b=2`)).toBe("xyz.abc");
    expect(readSessionCookie("a=1")).toBeUndefined();
  });
});
