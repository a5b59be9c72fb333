import { describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey, isKeyExpired } from "./api-key.ts";
import { parseKeyRateLimit, rateLimitHeaderValues } from "./rate-limit-policy.ts";
import { rotateApiKey, rotatedIndexEntries, rotationRefusal } from "./rotation.ts";

const now = new Date("2026-12-07T12:00:00.000Z");

describe("rotateApiKey", () => {
  it("keeps tenant, roles, origins and limit under a new id and secret, and retires the old key", async () => {
    const old = await generateApiKey({
      tenant: "shop",
      roles: ["ingest"],
      origins: ["https://shop.example"],
    });
    const record = { ...old.record, rateLimit: { requests: 50, windowSeconds: 10 } };
    const rotated = await rotateApiKey(record, { graceSeconds: 3600, now });
    expect(rotated.record).toMatchObject({
      tenant: "shop",
      roles: ["ingest"],
      origins: ["https://shop.example"],
      rateLimit: { requests: 50, windowSeconds: 10 },
      rotatedFrom: record.keyId,
      createdAt: now.toISOString(),
    });
    expect(rotated.record.keyId).not.toBe(record.keyId);
    expect(rotated.record.keyHash).toBe(await hashApiKey(rotated.key));
    expect(rotated.key).not.toBe(old.key);
    expect(rotated.retiring).toEqual({ ...record, expiresAt: "2026-12-07T13:00:00.000Z" });
    expect(isKeyExpired(rotated.retiring, Date.parse("2026-12-07T12:59:59.999Z"))).toBe(false);
    expect(isKeyExpired(rotated.retiring, Date.parse("2026-12-07T13:00:00.000Z"))).toBe(true);
    expect(isKeyExpired(rotated.record, Date.parse("2100-01-01T00:00:00Z"))).toBe(false);
  });

  it("never extends an earlier end, and refuses a key already expired", async () => {
    const { record } = await generateApiKey({ tenant: "shop", roles: ["score"] });
    const retiring = { ...record, expiresAt: "2026-12-07T12:10:00.000Z" };
    const again = await rotateApiKey(retiring, { graceSeconds: 86_400, now });
    expect(again.retiring.expiresAt).toBe("2026-12-07T12:10:00.000Z");
    await expect(
      rotateApiKey({ ...record, expiresAt: now.toISOString() }, { graceSeconds: 60, now }),
    ).rejects.toThrow(/already expired/);
  });

  it("marks the index entries and says why a key cannot be rotated", async () => {
    const { record } = await generateApiKey({ tenant: "shop", roles: ["score"] });
    const entry = {
      keyHash: record.keyHash,
      roles: record.roles,
      name: "web",
      createdAt: record.createdAt,
    };
    const rotated = await rotateApiKey(record, { graceSeconds: 0, now });
    const { fresh, retiring } = rotatedIndexEntries(entry, rotated);
    expect(fresh).toEqual({
      keyHash: rotated.record.keyHash,
      roles: ["score"],
      name: "web",
      createdAt: now.toISOString(),
      rotatedFrom: record.keyId,
    });
    expect(retiring).toEqual({
      ...entry,
      expiresAt: now.toISOString(),
      rotatedTo: rotated.record.keyId,
    });
    const nowMs = now.getTime();
    expect(rotationRefusal(entry, record, nowMs)).toBeUndefined();
    expect(rotationRefusal(retiring, rotated.retiring, nowMs)).toMatch(/already rotated to key_/);
    expect(rotationRefusal({ ...entry, revokedAt: now.toISOString() }, record, nowMs)).toMatch(
      /revoked/,
    );
    expect(rotationRefusal(entry, undefined, nowMs)).toMatch(/revoked/);
    expect(rotationRefusal(entry, { ...record, expiresAt: now.toISOString() }, nowMs)).toMatch(
      /expired/,
    );
  });
});

describe("parseKeyRateLimit", () => {
  it.each([
    ["600/min", { requests: 600, windowSeconds: 60 }],
    ["5000/60s", { requests: 5000, windowSeconds: 60 }],
    ["5000/60", { requests: 5000, windowSeconds: 60 }],
    ["100000/1h", { requests: 100_000, windowSeconds: 3600 }],
    ["86400/d", { requests: 86_400, windowSeconds: 86_400 }],
    ["250", { requests: 250, windowSeconds: 60 }],
  ])("reads %s", (text, expected) => {
    expect(parseKeyRateLimit(text)).toEqual({ ok: true, value: expected });
  });

  it.each(["", "0/min", "10/", "ten/min", "10/2d", "10/5w", "-1/min"])("refuses %j", (text) => {
    const parsed = parseKeyRateLimit(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/rate limit|out of range/);
  });
});

describe("rateLimitHeaderValues", () => {
  it("writes draft-ietf-httpapi-ratelimit-headers-11 Structured Field items", () => {
    expect(
      rateLimitHeaderValues({
        policy: "requests",
        limit: 1000,
        windowSeconds: 60,
        remaining: 998,
        resetSeconds: 41,
      }),
    ).toEqual({ policy: '"requests";q=1000;w=60', rateLimit: '"requests";r=998;t=41' });
    // Never negative: a refused request reports 0 remaining and a reset that has not passed.
    expect(
      rateLimitHeaderValues({
        policy: "requests",
        limit: 5,
        windowSeconds: 1,
        remaining: -3,
        resetSeconds: -1,
      }).rateLimit,
    ).toBe('"requests";r=0;t=0');
  });
});
