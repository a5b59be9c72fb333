/**
 * Per-key request limits, the RateLimit headers, and key rotation through the admin API, inside
 * workerd against the real Upstash REST server and Redis.
 */
import { describe, expect, it } from "vitest";
import { apiKeyRedisKey, tenantKeysRedisKey } from "#core/api-keys";
import { createKeyWithRecord, type ErrorJson, redis, testApp, uniqueTenant } from "./support";

/** A request counted against the key's limit that needs no model and no database. */
const probe = (app: ReturnType<typeof testApp>, key: string) =>
  app.fetch("/v1/score", { key, json: {} });

/** The sliding window admits a little more across a window edge; exact counts start away from it. */
async function awayFromWindowEdge(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

interface RotatedJson {
  key: string;
  keyId: string;
  rotatedFrom: string;
  previousKeyExpiresAt: string;
  roles: string[];
  rateLimit: { requests: number; windowSeconds: number } | null;
}

describe("per-key request limits", () => {
  it("counts a key against its own limit, and reports it in RateLimit-Policy and RateLimit", async () => {
    const app = testApp({ RATE_LIMIT_REQUESTS: 1000, RATE_LIMIT_WINDOW_SECONDS: 60 });
    const tenant = uniqueTenant("own-limit");
    const { key } = await createKeyWithRecord(tenant, ["score"], {
      rateLimit: { requests: 2, windowSeconds: 20 },
    });
    const other = await createKeyWithRecord(tenant, ["score"]);
    await awayFromWindowEdge(20_000, 8_000);
    const first = await probe(app, key);
    expect(first.status).toBe(400);
    expect(first.headers.get("ratelimit-policy")).toBe('"requests";q=2;w=20');
    expect(first.headers.get("ratelimit")).toMatch(/^"requests";r=1;t=([0-9]|1[0-9]|20)$/);
    expect((await probe(app, key)).status).toBe(400);
    const refused = await probe(app, key);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as ErrorJson).error.message).toMatch(/2 requests per 20 s/);
    // Its neighbour without a limit of its own has the default.
    const neighbour = await probe(app, other.key);
    expect(neighbour.headers.get("ratelimit-policy")).toBe('"requests";q=1000;w=60');
  });

  it("gives keys with the ingest role the ingest default, which a busy website does not reach", async () => {
    const app = testApp({ RATE_LIMIT_REQUESTS: 1000, RATE_LIMIT_INGEST_REQUESTS: 250000 });
    const { key } = await createKeyWithRecord(uniqueTenant("ingest-limit"), ["ingest"]);
    const res = await app.fetch("/v1/events", { key, json: { events: [] } });
    expect(res.headers.get("ratelimit-policy")).toBe('"requests";q=250000;w=60');
    // Defaults: 100,000 requests per minute for ingest keys.
    const defaults = testApp();
    const again = await defaults.fetch("/v1/events", { key, json: { events: [] } });
    expect(again.headers.get("ratelimit-policy")).toBe('"requests";q=100000;w=60');
  });

  it("lets an admin set and remove a key's limit, for its own tenant's keys only", async () => {
    const app = testApp({ RATE_LIMIT_REQUESTS: 1000 });
    const tenant = uniqueTenant("patch-limit");
    const admin = await createKeyWithRecord(tenant, ["admin"]);
    const scorer = await createKeyWithRecord(tenant, ["score"]);
    const patch = (keyId: string, body: unknown, key = admin.key) =>
      app.fetch(`/v1/keys/${keyId}`, { key, method: "PATCH", json: body });

    let res = await patch(scorer.record.keyId, {
      rateLimit: { requests: 5000, windowSeconds: 10 },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      keyId: scorer.record.keyId,
      rateLimit: { requests: 5000, windowSeconds: 10 },
      effectiveRateLimit: { requests: 5000, windowSeconds: 10 },
    });
    expect((await probe(app, scorer.key)).headers.get("ratelimit-policy")).toBe(
      '"requests";q=5000;w=10',
    );
    const stored = (await redis().get(apiKeyRedisKey(scorer.record.keyHash))) as {
      rateLimit?: unknown;
    };
    expect(stored.rateLimit).toEqual({ requests: 5000, windowSeconds: 10 });

    res = await patch(scorer.record.keyId, { rateLimit: null });
    expect(await res.json()).toMatchObject({
      rateLimit: null,
      effectiveRateLimit: { requests: 1000 },
    });
    expect((await probe(app, scorer.key)).headers.get("ratelimit-policy")).toBe(
      '"requests";q=1000;w=60',
    );

    // Bad bodies name the field; other tenants' keys are not found; only admins may.
    res = await patch(scorer.record.keyId, { rateLimit: { requests: 0, windowSeconds: 60 } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("rateLimit.requests");
    const stranger = await createKeyWithRecord(uniqueTenant("patch-other"), ["score"]);
    res = await patch(stranger.record.keyId, { rateLimit: null });
    expect(res.status).toBe(404);
    res = await patch(scorer.record.keyId, { rateLimit: null }, scorer.key);
    expect(res.status).toBe(403);
  });
});

describe("key rotation", () => {
  it("issues a new key with the same roles and limit; the old one works for the grace period, then is refused", async () => {
    const app = testApp({ API_KEY_CACHE_TTL_MS: 60_000 });
    const tenant = uniqueTenant("rotate");
    const admin = await createKeyWithRecord(tenant, ["admin"]);
    const old = await createKeyWithRecord(tenant, ["score", "ingest"], {
      rateLimit: { requests: 777, windowSeconds: 60 },
    });
    expect((await probe(app, old.key)).status).toBe(400);

    const res = await app.fetch(`/v1/keys/${old.record.keyId}/rotate`, {
      key: admin.key,
      json: { gracePeriodSeconds: 2 },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const rotated = (await res.json()) as RotatedJson;
    expect(rotated.key).toMatch(/^dl_/);
    expect(rotated.key).not.toBe(old.key);
    expect(rotated.rotatedFrom).toBe(old.record.keyId);
    expect(rotated.roles).toEqual(["score", "ingest"]);
    expect(rotated.rateLimit).toEqual({ requests: 777, windowSeconds: 60 });
    const endsInMs = Date.parse(rotated.previousKeyExpiresAt) - Date.now();
    expect(endsInMs).toBeGreaterThan(0);
    expect(endsInMs).toBeLessThanOrEqual(2_000);

    // Both work during the grace period (the old one from this isolate's cache, too).
    expect((await probe(app, rotated.key)).status).toBe(400);
    expect((await probe(app, old.key)).status).toBe(400);
    // The index says what happened to each.
    const index = (await redis().hgetall(tenantKeysRedisKey(tenant))) as Record<
      string,
      Record<string, unknown>
    >;
    expect(index[old.record.keyId]).toMatchObject({ rotatedTo: rotated.keyId });
    expect(index[rotated.keyId]).toMatchObject({ rotatedFrom: old.record.keyId });

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, endsInMs) + 100));
    const refused = await probe(app, old.key);
    expect(refused.status).toBe(401);
    // Refused by another isolate too (nothing cached there), and gone from Redis.
    expect((await probe(testApp(), old.key)).status).toBe(401);
    expect(await redis().get(apiKeyRedisKey(old.record.keyHash))).toBeNull();
    expect((await probe(app, rotated.key)).status).toBe(400);
  });

  it("refuses the old key at once with a grace period of 0, and rotates a key only once", async () => {
    const app = testApp();
    const tenant = uniqueTenant("rotate-now");
    const admin = await createKeyWithRecord(tenant, ["admin"]);
    const old = await createKeyWithRecord(tenant, ["score"]);
    const rotate = (keyId: string, key = admin.key, body: unknown = { gracePeriodSeconds: 0 }) =>
      app.fetch(`/v1/keys/${keyId}/rotate`, { key, json: body });
    const res = await rotate(old.record.keyId);
    expect(res.status).toBe(201);
    const rotated = (await res.json()) as RotatedJson;
    expect((await probe(app, old.key)).status).toBe(401);
    expect((await probe(app, rotated.key)).status).toBe(400);

    const again = await rotate(old.record.keyId);
    expect(again.status).toBe(409);
    expect(((await again.json()) as ErrorJson).error.message).toContain(
      `already rotated to ${rotated.keyId}`,
    );
    // Other tenants' keys are not found; a bad grace period is a 400 naming it; admins only.
    const stranger = await createKeyWithRecord(uniqueTenant("rotate-other"), ["score"]);
    expect((await rotate(stranger.record.keyId)).status).toBe(404);
    const bad = await rotate(rotated.keyId, admin.key, { gracePeriodSeconds: -1 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("gracePeriodSeconds");
    expect((await rotate(rotated.keyId, rotated.key)).status).toBe(403);
  });
});
