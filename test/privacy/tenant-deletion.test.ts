/**
 * `deleteTenant` against real PostgreSQL, the Upstash REST server in front of Redis, and
 * Miniflare's R2: two tenants seeded, one deleted, the other untouched. Also the inventory: every
 * table the migrations create is covered by the deletion or reviewed as kept or tenant-free.
 */

import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KEPT_TENANT_TABLES,
  TENANT_TABLES,
  tenantCountStatement,
  UNTENANTED_TABLES,
} from "#core/privacy";
import { keyStoresFromEnv } from "../../scripts/keys-common";
import { type LocalR2, openLocalR2 } from "../../scripts/local/local-r2";
import { migrate } from "../../scripts/migrate";
import { deleteTenant, describeTenantDeletion } from "../../scripts/tenants-delete";
import { type SeededTenant, seedTenant } from "./seed-tenant";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `test_tenant_delete_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const databaseUrl = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const { redis: redisConfig } = keyStoresFromEnv(process.env);
const redis = new Redis({ ...redisConfig, enableTelemetry: false });
const suffix = randomUUID().slice(0, 8);
const A = `gone-${suffix}`;
const B = `stays-${suffix}`;

let db: pg.Pool;
let r2: LocalR2;
const seeded: SeededTenant[] = [];
let r2Dir: string;

beforeAll(async () => {
  await migrate({ databaseUrl: POSTGRES_URL, schema });
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  r2Dir = mkdtempSync(join(tmpdir(), "driftline-r2-"));
  r2 = await openLocalR2(r2Dir);
});

afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.end();
  await r2.close();
  rmSync(r2Dir, { recursive: true, force: true });
  // The kept tenant's keys (and, should the test fail half-way, the deleted one's).
  const leftovers = [...seeded.flatMap((t) => t.redisKeys), ...(await redis.keys(`*${suffix}*`))];
  if (leftovers.length > 0) await redis.del(...leftovers);
});

async function countsOf(tenant: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of [...TENANT_TABLES, "audit_log" as const]) {
    const { rows } = await db.query<{ n: string }>(tenantCountStatement(table), [tenant]);
    out[table] = Number(rows[0]?.n ?? 0);
  }
  return out;
}

async function existing(keys: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const key of keys) if ((await redis.exists(key)) === 1) out.push(key);
  return out;
}

async function objects(prefix: string, bucket = r2.models): Promise<string[]> {
  return (await bucket.list({ prefix })).objects.map((o) => o.key);
}

describe("the table inventory", () => {
  it("covers every table the migrations create", async () => {
    const { rows } = await db.query<{ table_name: string; tenanted: boolean }>(
      `SELECT t.table_name,
              EXISTS (SELECT 1 FROM information_schema.columns c
                       WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                         AND c.column_name = 'tenant_id') AS tenanted
         FROM information_schema.tables t
        WHERE t.table_schema = $1 AND t.table_type = 'BASE TABLE'`,
      [schema],
    );
    const tenanted = rows
      .filter((r) => r.tenanted)
      .map((r) => r.table_name)
      .sort();
    const untenanted = rows
      .filter((r) => !r.tenanted)
      .map((r) => r.table_name)
      .sort();
    // A new table with tenant_id belongs in TENANT_TABLES (deleted) or KEPT_TENANT_TABLES (why not).
    expect(tenanted).toEqual([...TENANT_TABLES, ...Object.keys(KEPT_TENANT_TABLES)].sort());
    expect(untenanted).toEqual(Object.keys(UNTENANTED_TABLES).sort());
  });
});

describe("deleteTenant", () => {
  it("deletes one tenant's rows, keys and objects and leaves the other's as they were", async () => {
    const a = await seedTenant(db, redis, r2.models, A);
    const b = await seedTenant(db, redis, r2.models, B);
    seeded.push(a, b);
    // A parked bundle holding records of both tenants, and one of A alone.
    const record = (tenant: string, id: string) => ({
      topic: "events",
      key: `${tenant}:${id}`,
      value: { tenant, event: { user_data: {} } },
    });
    const mixed = { bundle: 1, attempts: 3, records: [record(A, "e1"), record(B, "e2")] };
    const meta = { httpMetadata: { contentType: "application/json" }, customMetadata: {} };
    await r2.deadLetters.put("parked/ingest/2026-11-01/m1-12.json", JSON.stringify(mixed), meta);
    await r2.deadLetters.put(
      "parked/ingest/2026-11-01/m2-12.json",
      JSON.stringify({ bundle: 1, attempts: 3, records: [record(A, "e3")] }),
      meta,
    );

    const beforeA = await countsOf(A);
    const beforeB = await countsOf(B);
    // Every table the seed reaches holds rows of A, including those filled by triggers.
    expect(beforeA.metric_minute_totals).toBe(2);
    expect(beforeA.retrain_request_history).toBeGreaterThan(0);

    const options = { redis: redisConfig, databaseUrl, tenant: A, r2 };
    const plan = await deleteTenant({ ...options, apply: false });
    expect(plan.applied).toBe(false);
    expect(await countsOf(A)).toEqual(beforeA);
    expect(await existing(a.redisKeys)).toEqual(a.redisKeys);
    expect(plan.redis).toMatchObject({ apiKeys: 1, rateLimitCounters: 2, tenantKeys: 3 });

    const report = await deleteTenant({ ...options, apply: true });
    const { audit_log: keptBefore, ...rowsBefore } = beforeA;
    expect(report.postgres.tables).toEqual(rowsBefore);
    expect(report.redis).toMatchObject({
      apiKeys: 1,
      rateLimitCounters: 2,
      tenantKeys: 3,
      modelPointers: 1,
      rejectionCounters: 1,
    });
    expect(report.r2).toMatchObject({
      models: 2,
      deadLetters: { scanned: 2, records: 2, rewritten: 1, deleted: 1 },
    });
    expect(describeTenantDeletion(report)).toContain(`Tenant ${A}: deleted.`);

    // A: no row but its audit entries (the seed's and the deletion's), no key, no object.
    const afterA = await countsOf(A);
    for (const table of TENANT_TABLES) expect([table, afterA[table]]).toEqual([table, 0]);
    expect(afterA.audit_log).toBe(keptBefore! + 1);
    const { rows: entries } = await db.query(
      "SELECT action, target, actor_kind FROM audit_log WHERE tenant_id = $1 ORDER BY entry_id",
      [A],
    );
    expect(entries.at(-1)).toEqual({
      action: "tenant.delete",
      target: `tenant:${A}`,
      actor_kind: "operator",
    });
    expect(await existing(a.redisKeys)).toEqual([]);
    expect(await objects(`tenants/${A}/`)).toEqual([]);

    // B: untouched everywhere, including its record in the shared parked bundle.
    expect(await countsOf(B)).toEqual(beforeB);
    expect(await existing(b.redisKeys)).toEqual(b.redisKeys);
    expect(await objects(`tenants/${B}/`)).toEqual(b.modelObjects);
    expect(await objects("parked/", r2.deadLetters)).toEqual([
      "parked/ingest/2026-11-01/m1-12.json",
    ]);
    const left = await r2.deadLetters.get("parked/ingest/2026-11-01/m1-12.json");
    expect(JSON.parse(await left!.text()).records.map((r: { key: string }) => r.key)).toEqual([
      `${B}:e2`,
    ]);

    // Running it again finds nothing more.
    const again = await deleteTenant({ ...options, apply: true });
    expect(Object.values(again.postgres.tables).every((n) => n === 0)).toBe(true);
    expect(again.redis).toMatchObject({ apiKeys: 0, rateLimitCounters: 0, tenantKeys: 0 });
  });
});
