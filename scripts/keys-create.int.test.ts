/** keys:create against the real Upstash REST server (Redis) and PostgreSQL in a fresh schema. */

import { randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApiKeyRecordSchema,
  apiKeyRedisKey,
  hashApiKey,
  tenantOriginsRedisKey,
} from "#core/api-keys";
import { ValidationError } from "#core/errors";
import { LOCAL_UPSTASH } from "../test/support/local-stack";
import { TestSchema } from "../test/support/test-schema";
import { tenantKeysRedisKey } from "./keys-common";
import { createApiKey, parseKeyArgs } from "./keys-create";
import { loadLocalStackConfig } from "./local/config";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const testSchema = new TestSchema("test_keys");
const schema = testSchema.name;
const redisConfig = LOCAL_UPSTASH;
const redis = new Redis({ ...redisConfig, enableTelemetry: false });
/** The migrated schema first on the search path, as a production DATABASE_URL would not need. */
const databaseUrl = testSchema.databaseUrl;

let admin: pg.Pool;

beforeAll(async () => {
  admin = await testSchema.create();
});

afterAll(async () => {
  await testSchema.drop();
});

describe("parseKeyArgs", () => {
  it("reads tenant, roles and origins, normalising origins", () => {
    const options = parseKeyArgs(
      [
        "--tenant",
        "shop-1",
        "--roles",
        "ingest,ingest",
        "--origins",
        "https://Shop.Example:443/,http://localhost:3000",
        "--origins",
        "*",
      ],
      {},
    );
    expect(options).toMatchObject({
      tenant: "shop-1",
      roles: ["ingest"],
      origins: ["https://shop.example", "http://localhost:3000", "*"],
      // Without UPSTASH_REDIS_REST_TOKEN: the local stack's own token, from its state dir.
      redis: {
        url: "http://127.0.0.1:8079",
        token: loadLocalStackConfig({}).UPSTASH_REDIS_REST_TOKEN,
      },
      json: false,
    });
    expect(options.redis.token).toMatch(/^dl_local_[\w-]{32}$/);
    expect(options.databaseUrl).toBeUndefined();
  });

  it("gives a publishable key (with --origins) the ingest role only", () => {
    expect(() =>
      parseKeyArgs(
        ["--tenant", "a", "--roles", "ingest,read", "--origins", "https://shop.example"],
        {},
      ),
    ).toThrow(/publishable .* may only have the ingest role/);
  });

  it("names every bad argument", () => {
    const attempt = () =>
      parseKeyArgs(["--tenant", "no spaces", "--roles", "owner", "--origins", "ftp://x"], {});
    expect(attempt).toThrow(ValidationError);
    try {
      attempt();
    } catch (err) {
      const issues = (err as ValidationError).issues.map((i) => i.field);
      expect(issues).toEqual(["--tenant", "--roles", "--origins"]);
      expect((err as Error).message).toContain("Usage: npm run keys:create");
    }
    expect(() => parseKeyArgs(["--tenant", "a", "--roles", "score", "--bogus"], {})).toThrow(
      /Unknown option/,
    );
    expect(() => parseKeyArgs(["--tenant", "a"], {})).toThrow(/--roles give one or more/);
  });
});

describe("createApiKey", () => {
  it("creates a read-only key (the Worker's read API role) in Redis and Postgres", async () => {
    const tenant = `keys-${randomUUID().slice(0, 8)}`;
    const result = await createApiKey({
      tenant,
      roles: ["read"],
      origins: [],
      redis: redisConfig,
      databaseUrl,
    });
    const keyHash = await hashApiKey(result.key);
    const stored = ApiKeyRecordSchema.parse(await redis.get(apiKeyRedisKey(keyHash)));
    expect(stored.roles).toEqual(["read"]);
    const { rows } = await admin.query(`SELECT roles FROM ${schema}.api_keys WHERE key_hash = $1`, [
      keyHash,
    ]);
    expect(rows).toEqual([{ roles: ["read"] }]);
    await redis.del(apiKeyRedisKey(keyHash), tenantKeysRedisKey(tenant));
  });

  it("writes only the hash to Redis and Postgres, with origins for the tenant", async () => {
    const tenant = `keys-${randomUUID().slice(0, 8)}`;
    const result = await createApiKey({
      tenant,
      roles: ["ingest", "score"],
      origins: ["https://shop.example"],
      name: "website",
      redis: redisConfig,
      databaseUrl,
    });
    expect(result.key).toMatch(/^dl_[A-Za-z0-9_-]{43}$/);
    const keyHash = await hashApiKey(result.key);

    const stored = ApiKeyRecordSchema.parse(await redis.get(apiKeyRedisKey(keyHash)));
    expect(stored).toMatchObject({
      tenant,
      roles: ["ingest", "score"],
      keyHash,
      keyId: result.record.keyId,
      // Created with origins: a browser (publishable) key, whose events claim browser ids only.
      origins: ["https://shop.example"],
    });
    expect(await redis.smembers(tenantOriginsRedisKey(tenant))).toEqual(["https://shop.example"]);
    // The tenant's key index maps the key id to the hash and what a listing shows.
    expect(await redis.hgetall(tenantKeysRedisKey(tenant))).toEqual({
      [result.record.keyId]: {
        keyHash,
        roles: ["ingest", "score"],
        name: "website",
        createdAt: result.record.createdAt,
      },
    });

    const { rows } = await admin.query(
      `SELECT k.tenant_id, k.key_id, k.key_hash, k.roles, k.name, t.allowed_origins
         FROM ${schema}.api_keys k JOIN ${schema}.tenants t USING (tenant_id) WHERE k.key_hash = $1`,
      [keyHash],
    );
    expect(rows).toEqual([
      {
        tenant_id: tenant,
        key_id: result.record.keyId,
        key_hash: keyHash,
        roles: ["ingest", "score"],
        name: "website",
        allowed_origins: ["https://shop.example"],
      },
    ]);

    // A second key for the tenant merges origins instead of replacing them.
    const second = await createApiKey({
      tenant,
      roles: ["admin"],
      origins: ["https://b.example"],
      redis: redisConfig,
      databaseUrl,
    });
    const origins = await admin.query(
      `SELECT allowed_origins FROM ${schema}.tenants WHERE tenant_id = $1`,
      [tenant],
    );
    expect(origins.rows[0].allowed_origins).toEqual(["https://b.example", "https://shop.example"]);
    await redis.del(
      apiKeyRedisKey(keyHash),
      apiKeyRedisKey(second.record.keyHash),
      tenantOriginsRedisKey(tenant),
      tenantKeysRedisKey(tenant),
    );
  });

  it("says what to do when Postgres has no schema and writes nothing to Redis", async () => {
    const tenant = `keys-${randomUUID().slice(0, 8)}`;
    await expect(
      createApiKey({
        tenant,
        roles: ["score"],
        origins: [],
        redis: redisConfig,
        databaseUrl: `${POSTGRES_URL}?options=${encodeURIComponent("-c search_path=no_such_schema")}`,
      }),
    ).rejects.toThrow(/npm run migrate/);
    expect(await redis.smembers(tenantOriginsRedisKey(tenant))).toEqual([]);
    expect(await redis.exists(tenantKeysRedisKey(tenant))).toBe(0);
  });
});
