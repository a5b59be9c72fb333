/** keys:rotate (and keys:create --rate-limit) against the real Upstash REST server (Redis) and PostgreSQL in a fresh schema. */
import { randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyRecordSchema, apiKeyRedisKey, tenantKeysRedisKey } from "#core/api-keys";
import { ConflictError, NotFoundError, ValidationError } from "#core/errors";
import { LOCAL_UPSTASH } from "../test/support/local-stack";
import { TestSchema } from "../test/support/test-schema";
import { createApiKey, parseKeyArgs } from "./keys-create";
import { parseGraceSeconds, parseRotateArgs, rotateKey } from "./keys-rotate";

const testSchema = new TestSchema("test_rotate");
const schema = testSchema.name;
const redisConfig = LOCAL_UPSTASH;
const redis = new Redis({ ...redisConfig, enableTelemetry: false });
const databaseUrl = testSchema.databaseUrl;
const tenants: string[] = [];
let admin: pg.Pool;

beforeAll(async () => {
  admin = await testSchema.create();
});

afterAll(async () => {
  await testSchema.drop();
  if (tenants.length > 0) await redis.del(...tenants.map(tenantKeysRedisKey));
});

function tenant(): string {
  const t = `rotate-${randomUUID().slice(0, 8)}`;
  tenants.push(t);
  return t;
}

describe("keys:rotate arguments", () => {
  it("reads durations and refuses what is not one", () => {
    expect([parseGraceSeconds("0"), parseGraceSeconds("90s"), parseGraceSeconds("30m")]).toEqual([
      0, 90, 1800,
    ]);
    expect([parseGraceSeconds("24h"), parseGraceSeconds("30d")]).toEqual([86_400, 2_592_000]);
    expect([parseGraceSeconds("31d"), parseGraceSeconds("1w"), parseGraceSeconds("-1")]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(parseRotateArgs(["--tenant", "t", "--key-id", "key_1"], {})).toMatchObject({
      graceSeconds: 86_400,
    });
    expect(() =>
      parseRotateArgs(["--tenant", "t", "--key-id", "key_1", "--grace", "soon"], {}),
    ).toThrow(ValidationError);
    expect(() =>
      parseKeyArgs(["--tenant", "t", "--roles", "score", "--rate-limit", "fast"], {}),
    ).toThrow(/--rate-limit "fast" is not a rate limit/);
  });
});

describe("keys:rotate", () => {
  it("replaces the key in Redis and Postgres; the old one expires at the end of the grace period", async () => {
    const t = tenant();
    const stores = { redis: redisConfig, databaseUrl };
    const created = await createApiKey({
      ...parseKeyArgs(["--tenant", t, "--roles", "ingest", "--rate-limit", "600/min"], {}),
      ...stores,
      name: "website",
    });
    expect(created.record.rateLimit).toEqual({ requests: 600, windowSeconds: 60 });
    const now = new Date();
    const result = await rotateKey({
      tenant: t,
      keyId: created.record.keyId,
      graceSeconds: 120,
      now,
      ...stores,
    });
    expect(result.record).toMatchObject({
      tenant: t,
      roles: ["ingest"],
      rateLimit: { requests: 600, windowSeconds: 60 },
      rotatedFrom: created.record.keyId,
    });
    const end = now.getTime() + 120_000;

    const fresh = ApiKeyRecordSchema.parse(await redis.get(apiKeyRedisKey(result.record.keyHash)));
    expect(fresh.keyId).toBe(result.record.keyId);
    const old = ApiKeyRecordSchema.parse(await redis.get(apiKeyRedisKey(created.record.keyHash)));
    expect(Date.parse(old.expiresAt!)).toBe(end);
    const ttl = await redis.pttl(apiKeyRedisKey(created.record.keyHash));
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    const index = (await redis.hgetall(tenantKeysRedisKey(t))) as Record<
      string,
      Record<string, unknown>
    >;
    expect(index[created.record.keyId]).toMatchObject({ rotatedTo: result.record.keyId });
    expect(index[result.record.keyId]).toMatchObject({
      rotatedFrom: created.record.keyId,
      name: "website",
    });

    const { rows } = await admin.query<{ key_id: string; revoked_at: Date | null; name: string }>(
      `SELECT key_id, revoked_at, name FROM ${schema}.api_keys WHERE tenant_id = $1 ORDER BY created_at`,
      [t],
    );
    expect(rows.map((r) => [r.key_id, r.revoked_at?.getTime() ?? null, r.name])).toEqual([
      [created.record.keyId, end, "website"],
      [result.record.keyId, null, "website"],
    ]);

    // Once is enough: the old key now answers with its successor's id; unknown ids are not found.
    await expect(
      rotateKey({ tenant: t, keyId: created.record.keyId, graceSeconds: 0, ...stores }),
    ).rejects.toThrow(ConflictError);
    await expect(
      rotateKey({ tenant: tenant(), keyId: created.record.keyId, graceSeconds: 0, ...stores }),
    ).rejects.toThrow(NotFoundError);
  });
});
