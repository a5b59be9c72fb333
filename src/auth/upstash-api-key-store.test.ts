/** The key store's per-isolate cache: what reaches Redis, and what a flood of forged keys can evict. */
import { describe, expect, it } from "vitest";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import { UpstashApiKeyStore } from "./upstash-api-key-store";

/** The one Redis call the store makes, over a map; counts the calls. */
class CountingRedis {
  readonly values = new Map<string, unknown>();
  gets = 0;
  async get<T>(key: string): Promise<T | null> {
    this.gets += 1;
    return (this.values.get(key) ?? null) as T | null;
  }
}

const forged = (i: number) => i.toString(16).padStart(64, "0");

describe("UpstashApiKeyStore cache", () => {
  it("keeps valid keys cached through a flood of forged ones, and remembers forged ones briefly", async () => {
    const redis = new CountingRedis();
    const { record } = await generateApiKey({ tenant: "shop-1", roles: ["score"] });
    redis.values.set(apiKeyRedisKey(record.keyHash), record);
    let now = Date.UTC(2026, 11, 7);
    const store = new UpstashApiKeyStore(redis as never, 10_000, () => now, {
      knownKeys: 100,
      unknownKeys: 100,
    });
    expect(await store.findByHash(record.keyHash)).toEqual(record);
    for (let i = 0; i < 1_000; i++) expect(await store.findByHash(forged(i))).toBeUndefined();
    const getsAfterFlood = redis.gets;
    expect(await store.findByHash(record.keyHash)).toEqual(record);
    expect(redis.gets).toBe(getsAfterFlood);
    expect(store.cached()).toEqual({ known: 1, unknown: 100 });
    // A forged key repeated at once is answered from memory; after the negative TTL, asked again.
    await store.findByHash(forged(999));
    expect(redis.gets).toBe(getsAfterFlood);
    now += 2_000;
    await store.findByHash(forged(999));
    expect(redis.gets).toBe(getsAfterFlood + 1);
  });

  it("asks Redis again exactly when a known key's TTL has passed, and never trusts it past expiresAt", async () => {
    const redis = new CountingRedis();
    const { record } = await generateApiKey({ tenant: "shop-1", roles: ["score"] });
    let now = Date.UTC(2026, 11, 7);
    const retiring = { ...record, expiresAt: new Date(now + 4_000).toISOString() };
    redis.values.set(apiKeyRedisKey(record.keyHash), retiring);
    const store = new UpstashApiKeyStore(redis as never, 10_000, () => now);
    expect(await store.findByHash(record.keyHash)).toEqual(retiring);
    now += 3_999;
    expect(await store.findByHash(record.keyHash)).toEqual(retiring);
    expect(redis.gets).toBe(1);
    now += 1;
    expect(await store.findByHash(record.keyHash)).toBeUndefined();

    redis.values.set(apiKeyRedisKey(record.keyHash), record);
    store.forget(record.keyHash);
    expect(await store.findByHash(record.keyHash)).toEqual(record);
    const gets = redis.gets;
    now += 9_999;
    await store.findByHash(record.keyHash);
    expect(redis.gets).toBe(gets);
    now += 1;
    await store.findByHash(record.keyHash);
    expect(redis.gets).toBe(gets + 1);
  });
});
