/**
 * keys:create → keys:list → keys:revoke against the real Upstash REST server (Redis) and
 * PostgreSQL in a fresh schema; a revoked key is checked against the stores the services use:
 * the Worker's UpstashApiKeyStore and the stream processor's NeonApiKeyStore (through the relay).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { Redis } from "@upstash/redis";
import type { Redis as CloudflareRedis } from "@upstash/redis/cloudflare";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyRedisKey } from "#core/api-keys";
import { ConfigError, NotFoundError, ValidationError } from "#core/errors";
import { tenantKeysRedisKey } from "../../scripts/keys-common";
import { createApiKey } from "../../scripts/keys-create";
import { formatKeyTable, listApiKeys, parseListArgs } from "../../scripts/keys-list";
import { parseRevokeArgs, revokeApiKey } from "../../scripts/keys-revoke";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { type NeonWsRelay, startNeonWsRelay } from "../../scripts/local/neon-ws-relay";
import { migrate } from "../../scripts/migrate";
import { UpstashApiKeyStore } from "../../src/auth/upstash-api-key-store";
import { createApiKeyAuthenticator } from "../../stream-processor/api/authenticate-api-key";
import { createNeonPool, type Pool } from "../../stream-processor/db/create-pool";
import { NeonApiKeyStore } from "../../stream-processor/db/neon-api-key-store";

/** Without UPSTASH_REDIS_REST_TOKEN the key commands use the local stack's own token. */
const LOCAL_TOKEN = loadLocalStackConfig({}).UPSTASH_REDIS_REST_TOKEN;

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `test_keysrev_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const redisConfig = {
  url: process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:8079",
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? "driftline-local-token",
};
const redis = new Redis({ ...redisConfig, enableTelemetry: false });
const databaseUrl = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const stores = { redis: redisConfig, databaseUrl };
const redisOnly = { redis: redisConfig };
/** keys:revoke --redis-only: no database, on purpose. */
const revokeInRedisOnly = { ...redisOnly, redisOnly: true };

const newTenant = () => `keys-${randomUUID().slice(0, 8)}`;
const tenantsUsed: string[] = [];
const hashesUsed: string[] = [];

let relay: NeonWsRelay;
let pool: Pool;
let neonKeys: NeonApiKeyStore;

/** A key made by keys:create, remembered for clean-up. */
async function created(
  tenant: string,
  options: { name?: string; roles?: ("admin" | "score" | "ingest")[]; postgres?: boolean } = {},
) {
  tenantsUsed.push(tenant);
  const result = await createApiKey({
    tenant,
    roles: options.roles ?? ["admin", "score"],
    origins: [],
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.postgres === false ? redisOnly : stores),
  });
  hashesUsed.push(result.record.keyHash);
  return result;
}

/** The Worker's key store as one isolate holds it, with a clock the test moves. */
function workerIsolate(ttlMs: number) {
  let now = Date.now();
  const store = new UpstashApiKeyStore(redis as unknown as CloudflareRedis, ttlMs, () => now);
  return { store, advance: (ms: number) => (now += ms) };
}

/** The stream processor's read-API authentication, uncached, on its real key store. */
const authenticateRead = createApiKeyAuthenticator({
  store: { findByHash: (hash) => neonKeys.findByHash(hash) },
  clock: { nowMs: () => Date.now(), sleep: async () => undefined },
  cacheTtlMs: 0,
  requiredRoles: ["admin"],
});

beforeAll(async () => {
  await migrate({ databaseUrl: POSTGRES_URL, schema });
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
  pool = createNeonPool({ databaseUrl: POSTGRES_URL, wsRelayUrl: relay.url, schema, max: 2 });
  neonKeys = new NeonApiKeyStore(pool);
});

afterAll(async () => {
  await pool?.end();
  await relay?.close();
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end());
  if (hashesUsed.length > 0) await redis.del(...hashesUsed.map(apiKeyRedisKey));
  if (tenantsUsed.length > 0) await redis.del(...tenantsUsed.map(tenantKeysRedisKey));
});

describe("parseRevokeArgs and parseListArgs", () => {
  it("takes exactly one of --key-id and --key, and never echoes a key", () => {
    expect(parseRevokeArgs(["--tenant", "shop-1", "--key-id", "key_0123abcd"], {})).toMatchObject({
      tenant: "shop-1",
      target: { keyId: "key_0123abcd" },
      redis: { url: "http://127.0.0.1:8079", token: LOCAL_TOKEN },
    });
    expect(parseRevokeArgs(["--tenant", "a", "--key", "-"], {}).target).toEqual({ key: "-" });
    expect(() => parseRevokeArgs(["--tenant", "a"], {})).toThrow(/give either --key-id or --key/);
    expect(() =>
      parseRevokeArgs(["--tenant", "a", "--key-id", "k", "--key", `dl_${"x".repeat(43)}`], {}),
    ).toThrow(/one of them/);
    const secretish = "dl_has spaces and is secret";
    try {
      parseRevokeArgs(["--tenant", "no spaces", "--key", secretish], {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues.map((i) => i.field)).toEqual(["--tenant", "--key"]);
      expect((err as Error).message).not.toContain(secretish);
      expect((err as Error).message).toContain("Usage: npm run keys:revoke");
      expect((err as Error).message).toContain("API_KEY_CACHE_TTL_MS");
      expect((err as Error).message).toContain("STREAM_API_KEY_CACHE_TTL_MS");
    }
    expect(() => parseListArgs(["--tenant", "a", "--bogus"], {})).toThrow(/Unknown option/);
    expect(parseListArgs(["--tenant", "a", "--json"], { DATABASE_URL: "postgres://x/y" })).toEqual({
      tenant: "a",
      json: true,
      redis: { url: "http://127.0.0.1:8079", token: LOCAL_TOKEN },
      databaseUrl: "postgres://x/y",
    });
  });
});

describe("keys:create → keys:list → keys:revoke", () => {
  it("revokes by key id in both stores, idempotently, and lists the revocation", async () => {
    const tenant = newTenant();
    const first = await created(tenant, { name: "website" });
    const second = await created(tenant, { roles: ["ingest"] });
    const other = await created(newTenant());

    // Listed from Postgres and, identically, from the Upstash index; never a key or a hash.
    const fromPostgres = await listApiKeys({ tenant, ...stores });
    const fromUpstash = await listApiKeys({ tenant, ...redisOnly });
    expect(fromPostgres.source).toMatch(/^Postgres postgres:\/\/postgres@127\.0\.0\.1:5432\/test/);
    expect(fromUpstash.source).toBe(`Upstash Redis ${redisConfig.url}`);
    expect(fromPostgres.keys).toEqual([
      {
        keyId: first.record.keyId,
        roles: ["admin", "score"],
        name: "website",
        createdAt: first.record.createdAt,
        revokedAt: null,
      },
      {
        keyId: second.record.keyId,
        roles: ["ingest"],
        name: null,
        createdAt: second.record.createdAt,
        revokedAt: null,
      },
    ]);
    expect(fromUpstash.keys).toEqual(fromPostgres.keys);
    const printed = JSON.stringify(fromPostgres) + formatKeyTable(fromPostgres.keys);
    for (const secret of [first.key, first.record.keyHash, second.key, second.record.keyHash]) {
      expect(printed).not.toContain(secret);
    }
    expect(formatKeyTable(fromPostgres.keys).split("\n")[0]).toMatch(
      /^KEY ID\s+ROLES\s+NAME\s+CREATED\s+REVOKED$/,
    );

    // Before: both services accept the key. The isolate caches it for 10 s.
    const isolate = workerIsolate(10_000);
    expect(await isolate.store.findByHash(first.record.keyHash)).toMatchObject({
      tenant,
      keyId: first.record.keyId,
    });
    await expect(authenticateRead(`Bearer ${first.key}`)).resolves.toMatchObject({
      tenantId: tenant,
      keyId: first.record.keyId,
    });

    const revoked = await revokeApiKey({
      tenant,
      target: { keyId: first.record.keyId },
      ...stores,
    });
    expect(revoked).toMatchObject({
      tenant,
      keyId: first.record.keyId,
      upstash: { removed: true },
      postgres: { found: true, alreadyRevoked: false },
    });
    const revokedAt = revoked.postgres?.found ? revoked.postgres.revokedAt : "";

    // The edge: a fresh isolate refuses it at once; the one that cached it, once its TTL is over.
    expect(await workerIsolate(10_000).store.findByHash(first.record.keyHash)).toBeUndefined();
    expect(await isolate.store.findByHash(first.record.keyHash)).toBeDefined();
    isolate.advance(10_000);
    expect(await isolate.store.findByHash(first.record.keyHash)).toBeUndefined();
    // The read API: the row says revoked, and authentication refuses it.
    expect(await neonKeys.findByHash(first.record.keyHash)).toMatchObject({ revoked: true });
    await expect(authenticateRead(`Bearer ${first.key}`)).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
      message: "The API key has been revoked.",
    });
    // The tenant's other key and the other tenant's key still work.
    expect(await workerIsolate(0).store.findByHash(second.record.keyHash)).toBeDefined();
    await expect(authenticateRead(`Bearer ${other.key}`)).resolves.toBeDefined();

    // Again, by id or by the key itself: nothing changes, and the result says so.
    for (const target of [{ keyId: first.record.keyId }, { key: first.key }]) {
      expect(await revokeApiKey({ tenant, target, ...stores })).toMatchObject({
        keyId: first.record.keyId,
        upstash: { removed: false },
        postgres: { found: true, alreadyRevoked: true, revokedAt },
      });
    }

    // Both listings show the same revocation time; the other key is untouched.
    const after = (await listApiKeys({ tenant, ...stores })).keys;
    expect(after.map((k) => [k.keyId, k.revokedAt])).toEqual([
      [first.record.keyId, revokedAt],
      [second.record.keyId, null],
    ]);
    expect((await listApiKeys({ tenant, ...redisOnly })).keys).toEqual(after);
  });

  it("refuses another tenant's key without revealing it, and unknown keys", async () => {
    const tenant = newTenant();
    await created(tenant);
    const otherTenant = newTenant();
    const other = await created(otherTenant);

    const byId = revokeApiKey({ tenant, target: { keyId: other.record.keyId }, ...stores });
    await expect(byId).rejects.toThrow(NotFoundError);
    await expect(byId).rejects.toThrow(`No key ${other.record.keyId} of tenant ${tenant}`);

    const byKey = revokeApiKey({ tenant, target: { key: other.key }, ...revokeInRedisOnly });
    await expect(byKey).rejects.toThrow(NotFoundError);
    const message = await byKey.catch((err: Error) => err.message);
    expect(message).toContain("belongs to another tenant");
    expect(message).toContain("nothing was changed");
    for (const hidden of [otherTenant, other.record.keyId, other.key, other.record.keyHash]) {
      expect(message).not.toContain(hidden);
    }
    await expect(
      revokeApiKey({ tenant, target: { key: `dl_${"A".repeat(43)}` }, ...stores }),
    ).rejects.toThrow(/No key with that value of tenant/);

    // Nothing happened to the other tenant's key.
    expect(await workerIsolate(0).store.findByHash(other.record.keyHash)).toMatchObject({
      tenant: otherTenant,
    });
    expect(await neonKeys.findByHash(other.record.keyHash)).toMatchObject({ revoked: false });
  });

  it("revokes keys without an index entry: by id through Postgres, else by the key", async () => {
    const tenant = newTenant();
    // Keys from before the per-tenant index: a record in Redis (and maybe a row), no entry.
    const withRow = await created(tenant);
    const redisOnlyKey = await created(tenant, { postgres: false });
    await redis.hdel(tenantKeysRedisKey(tenant), withRow.record.keyId, redisOnlyKey.record.keyId);

    expect(
      await revokeApiKey({ tenant, target: { keyId: withRow.record.keyId }, ...stores }),
    ).toMatchObject({ upstash: { removed: true }, postgres: { found: true } });
    expect(await workerIsolate(0).store.findByHash(withRow.record.keyHash)).toBeUndefined();

    await expect(
      revokeApiKey({ tenant, target: { keyId: redisOnlyKey.record.keyId }, ...stores }),
    ).rejects.toThrow(/can be revoked with --key/);
    expect(
      await revokeApiKey({ tenant, target: { key: redisOnlyKey.key }, ...stores }),
    ).toMatchObject({
      keyId: redisOnlyKey.record.keyId,
      upstash: { removed: true },
      postgres: { found: false },
    });
    expect(await workerIsolate(0).store.findByHash(redisOnlyKey.record.keyHash)).toBeUndefined();
  });

  it("revokes by key id with Upstash Redis alone, through the index", async () => {
    const tenant = newTenant();
    const key = await created(tenant, { postgres: false });
    const result = await revokeApiKey({
      tenant,
      target: { keyId: key.record.keyId },
      ...revokeInRedisOnly,
    });
    expect(result).toEqual({
      tenant,
      keyId: key.record.keyId,
      upstash: { url: redisConfig.url, removed: true },
    });
    expect(await workerIsolate(0).store.findByHash(key.record.keyHash)).toBeUndefined();
    const listed = await listApiKeys({ tenant, ...redisOnly });
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]!.revokedAt).toEqual(expect.any(String));
    expect(
      (await revokeApiKey({ tenant, target: { keyId: key.record.keyId }, ...revokeInRedisOnly }))
        .upstash,
    ).toEqual({ url: redisConfig.url, removed: false, revokedAt: listed.keys[0]!.revokedAt });
  });
});

describe("revoking without a database", () => {
  it("is refused, changing nothing, unless Redis alone is asked for", async () => {
    const tenant = newTenant();
    const key = await created(tenant);
    const attempt = revokeApiKey({ tenant, target: { keyId: key.record.keyId }, ...redisOnly });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/nothing was changed.*DATABASE_URL.*--redis-only/s);
    // Both services still accept the key: a half revocation was not reported as done.
    expect(await workerIsolate(0).store.findByHash(key.record.keyHash)).toMatchObject({ tenant });
    expect(await neonKeys.findByHash(key.record.keyHash)).toMatchObject({ revoked: false });
    expect(
      parseRevokeArgs(["--tenant", tenant, "--key-id", "key_1", "--redis-only"], {}),
    ).toMatchObject({
      redisOnly: true,
    });
    expect(
      parseRevokeArgs(["--tenant", tenant, "--key-id", "key_1"], {}).redisOnly,
    ).toBeUndefined();
  });

  it("with --redis-only is recorded in Redis, and a later run with the database completes it", async () => {
    const tenant = newTenant();
    const key = await created(tenant);
    const first = await revokeApiKey({
      tenant,
      target: { keyId: key.record.keyId },
      ...revokeInRedisOnly,
    });
    expect(first.upstash.removed).toBe(true);
    expect(first.postgres).toBeUndefined();
    expect(await workerIsolate(0).store.findByHash(key.record.keyHash)).toBeUndefined();
    // The read API still takes it: Postgres was not reached.
    expect(await neonKeys.findByHash(key.record.keyHash)).toMatchObject({ revoked: false });

    // The index remembers the revocation (and its key hash), so the same command with the
    // database finds the key by id and revokes it in Postgres at the recorded time.
    const listed = await listApiKeys({ tenant, ...redisOnly });
    const revokedAt = listed.keys[0]!.revokedAt;
    expect(revokedAt).toEqual(expect.any(String));
    const second = await revokeApiKey({ tenant, target: { keyId: key.record.keyId }, ...stores });
    expect(second).toMatchObject({
      upstash: { removed: false, revokedAt },
      postgres: { found: true, alreadyRevoked: false },
    });
    expect(await neonKeys.findByHash(key.record.keyHash)).toMatchObject({ revoked: true });
  });
});

describe("the commands", () => {
  const run = promisify(execFile);
  const tsx = resolve(import.meta.dirname, "../../node_modules/.bin/tsx");
  const env = {
    ...process.env,
    UPSTASH_REDIS_REST_URL: redisConfig.url,
    UPSTASH_REDIS_REST_TOKEN: redisConfig.token,
    DATABASE_URL: databaseUrl,
  };

  it("print what they did, and fail with a message and exit code 1", async () => {
    const tenant = newTenant();
    const key = await created(tenant, { name: "cli" });
    const revoke = await run(
      tsx,
      ["scripts/keys-revoke.ts", "--tenant", tenant, "--key-id", key.record.keyId],
      { env },
    );
    expect(revoke.stdout).toContain(`Key ${key.record.keyId} of tenant ${tenant}:`);
    expect(revoke.stdout).toMatch(/Upstash Redis .*: deleted/);
    expect(revoke.stdout).toMatch(/Postgres .*: revoked_at set to /);

    const list = await run(tsx, ["scripts/keys-list.ts", "--tenant", tenant], { env });
    expect(list.stderr).toContain(`1 key(s) of tenant ${tenant}, 0 active, from Postgres`);
    expect(list.stdout).toMatch(new RegExp(`^${key.record.keyId}\\s+admin,score\\s+cli\\s`, "m"));
    expect(list.stdout).not.toContain(key.record.keyHash);

    const refused = await run(
      tsx,
      ["scripts/keys-revoke.ts", "--tenant", newTenant(), "--key-id", key.record.keyId],
      { env },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toContain(`No key ${key.record.keyId}`);
  });
});
