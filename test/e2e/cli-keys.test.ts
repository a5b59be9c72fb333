/**
 * `driftline keys create|list|revoke` as a process against the real Upstash REST server (Redis)
 * and PostgreSQL in a fresh schema: the same stores, rows and audit entries as `npm run keys:*`,
 * and the Worker's key store refuses the key once revoked.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyRedisKey, hashApiKey } from "#core/api-keys";
import { migrate } from "../../scripts/migrate";
import { driftline } from "../support/driftline-cli";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `test_clikeys_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const databaseUrl = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const redis = new Redis({
  url: process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:8079",
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? "driftline-local-token",
  enableTelemetry: false,
});
const tenant = `clikeys-${randomUUID().slice(0, 8)}`;
const other = `clikeys-other-${randomUUID().slice(0, 8)}`;
const env = { DATABASE_URL: databaseUrl, DRIFTLINE_OPERATOR: "cli-test" };
let admin: pg.Client;

beforeAll(async () => {
  await migrate({ databaseUrl: POSTGRES_URL, schema });
  admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
});

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe("driftline keys", () => {
  it("creates (key alone on stdout), lists, rotates and revokes with audit entries; another tenant's revoke is refused", async () => {
    const created = await driftline(
      ["keys", "create", "--tenant", tenant, "--roles", "admin,ingest", "--name", "ops"],
      env,
    );
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^dl_/);
    expect(created.stderr).toContain("The key is shown only now.");
    const record = (await redis.get<{ keyId: string; tenant: string }>(
      apiKeyRedisKey(await hashApiKey(key)),
    ))!;
    expect(record.tenant).toBe(tenant);

    const listed = await driftline(["keys", "list", "--tenant", tenant, "--json"], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        keyId: record.keyId,
        roles: ["admin", "ingest"],
        name: "ops",
        revokedAt: null,
      }),
    ]);
    expect(listed.stdout).not.toContain(key);

    // Another tenant cannot revoke it: refused, nothing changed.
    const foreign = await driftline(
      ["keys", "revoke", "--tenant", other, "--key-id", record.keyId],
      env,
    );
    expect(foreign.code).toBe(1);
    expect(foreign.stderr.trim().split("\n")).toHaveLength(1);
    expect(await redis.get(apiKeyRedisKey(await hashApiKey(key)))).not.toBeNull();

    // Rotate without grace: a new key with the same roles; the old one is gone at once.
    const rotated = await driftline(
      ["keys", "rotate", "--tenant", tenant, "--key-id", record.keyId, "--grace", "0", "--json"],
      env,
    );
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { key: string; keyId: string; rotatedFrom: string };
    expect(fresh.rotatedFrom).toBe(record.keyId);
    expect(await redis.get(apiKeyRedisKey(await hashApiKey(key)))).toBeNull();
    const freshRecord = await redis.get<{ roles: string[] }>(
      apiKeyRedisKey(await hashApiKey(fresh.key)),
    );
    expect(freshRecord?.roles).toEqual(["admin", "ingest"]);

    const revoked = await driftline(
      ["keys", "revoke", "--tenant", tenant, "--key-id", fresh.keyId],
      env,
    );
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain("deleted");
    expect(await redis.get(apiKeyRedisKey(await hashApiKey(fresh.key)))).toBeNull();
    const { rows } = await admin.query(
      `SELECT action, target, actor_id FROM ${schema}.audit_log WHERE tenant_id = $1 ORDER BY entry_id`,
      [tenant],
    );
    expect(rows).toEqual([
      { action: "api-key.create", target: `api-key:${record.keyId}`, actor_id: "cli-test" },
      { action: "api-key.rotate", target: `api-key:${record.keyId}`, actor_id: "cli-test" },
      { action: "api-key.revoke", target: `api-key:${fresh.keyId}`, actor_id: "cli-test" },
    ]);
  });
});
