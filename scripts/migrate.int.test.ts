/** Migrations on the machine's PostgreSQL in a fresh schema, then the Neon Pool through the relay. */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import { createNeonPool, type Pool, withTransaction } from "../test/support/integration-env";
import { type NeonWsRelay, startNeonWsRelay } from "./local/neon-ws-relay";
import { listMigrations, MIGRATIONS_TABLE, migrate } from "./migrate";

/** The machine's PostgreSQL (trust auth). */
const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `test_migrate_${randomUUID().replaceAll("-", "").slice(0, 12)}`;

/** The tables of the initial migration; later migrations may add more. */
const TABLES = [
  "alerts",
  "api_keys",
  "consumer_offsets",
  "drift_results",
  "metric_window_values",
  "metric_windows",
  "model_versions",
  "performance_results",
  "predictions",
  "retrain_requests",
  "seen_events",
  "tenants",
];

let admin: pg.Client;
let relay: NeonWsRelay;
let pool: Pool;
let firstRun: string[];
let secondRun: string[];

beforeAll(async () => {
  admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  firstRun = (await migrate({ databaseUrl: POSTGRES_URL, schema })).applied;
  secondRun = (await migrate({ databaseUrl: POSTGRES_URL, schema })).applied;
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
  pool = createNeonPool({ databaseUrl: POSTGRES_URL, wsRelayUrl: relay.url, schema, max: 3 });
});

afterAll(async () => {
  await pool?.end();
  await relay?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

describe("migrate", () => {
  it("applies every migration once; a second run applies nothing", () => {
    expect(listMigrations()[0]).toBe("1795383295448_initial-schema");
    expect(firstRun).toEqual(listMigrations());
    expect(secondRun).toEqual([]);
  });

  it("creates the tables (and the bookkeeping) in the requested schema", async () => {
    const { rows } = await admin.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
      [schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([...TABLES, MIGRATIONS_TABLE]),
    );
    const recorded = await admin.query(
      `SELECT name FROM ${schema}.${MIGRATIONS_TABLE} ORDER BY run_on, id`,
    );
    expect(recorded.rows.map((r) => r.name)).toEqual(listMigrations());
  });

  it("gives every tenant table a tenant_id and indexes that start with it", async () => {
    const { rows: tables } = await admin.query<{ table_name: string; has_tenant: boolean }>(
      `SELECT t.table_name,
              EXISTS (SELECT 1 FROM information_schema.columns c
                       WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                         AND c.column_name = 'tenant_id' AND c.is_nullable = 'NO') AS has_tenant
         FROM information_schema.tables t WHERE t.table_schema = $1`,
      [schema],
    );
    // consumer_offsets belong to a consumer group, not to a tenant (see the initial migration);
    // seen_events keys are hashes over (tenant, event name, event id), which separate tenants;
    // monitoring_settings_defaults is the operator's one row every tenant's settings layer over.
    const withoutTenant = tables
      .filter((t) => !t.has_tenant)
      .map((t) => t.table_name)
      .sort();
    expect(withoutTenant).toEqual(
      ["consumer_offsets", MIGRATIONS_TABLE, "monitoring_settings_defaults", "seen_events"].sort(),
    );

    const { rows: indexes } = await admin.query<{ table: string; index: string; first: string }>(
      `SELECT t.relname AS table, i.relname AS index, a.attname AS first
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
        WHERE n.nspname = $1 AND t.relname <> ALL($2)`,
      [schema, ["consumer_offsets", MIGRATIONS_TABLE]],
    );
    const notByTenant = indexes
      .filter((i) => i.first !== "tenant_id")
      .map((i) => i.index)
      .sort();
    // Each exception serves a reader that works across tenants by design:
    expect(notByTenant).toEqual(
      [
        // authentication finds a key by its hash before it knows the tenant;
        "api_keys_key_hash_key",
        // an audit entry's own id (reads go by tenant through audit_log_tenant_*);
        "audit_log_pkey",
        // the retraining worker takes the next due job, whatever its tenant;
        "retraining_jobs_due",
        // the outbox publisher delivers every tenant's alerts in order of due time;
        "monitoring_outbox_channel_ref_id_target_key",
        "monitoring_outbox_due",
        "monitoring_outbox_pkey",
        // the operator's default settings: one row, no tenant;
        "monitoring_settings_defaults_pkey",
        // the dedup purge deletes expired entries by age, whatever their tenant;
        "seen_events_first_seen_brin",
        // dedup keys are hashes of (tenant, event name, event id): the tenant is inside the key.
        "seen_events_pkey",
        // the retention purge deletes old webhook delivery records by age, whatever their tenant.
        "webhook_deliveries_by_age",
      ].sort(),
    );
    expect(indexes.length).toBeGreaterThan(TABLES.length);
  });

  it("enforces the schema's invariants", async () => {
    const violation = async (sql: string, params: unknown[]) => {
      const error = await admin.query(sql, params).then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
      return error;
    };
    const window = `INSERT INTO ${schema}.metric_windows
      (tenant_id, window_seconds, window_start, source, event_name) VALUES ($1, $2, $3, 'web', 'Purchase')`;
    // Not aligned to the minute: CHECK violation.
    expect(await violation(window, ["t1", 60, "2026-11-22T10:00:30Z"])).toBe("23514");
    // Width that does not divide a day.
    expect(await violation(window, ["t1", 7, "2026-11-22T10:00:00Z"])).toBe("23514");
    // Two champions of one model: unique violation.
    await admin.query(`INSERT INTO ${schema}.tenants (tenant_id) VALUES ('t1')`);
    const version = `INSERT INTO ${schema}.model_versions (tenant_id, model_name, version, manifest, status)
      VALUES ('t1', 'conversion', $1, '{}', 'champion')`;
    await admin.query(version, ["1"]);
    expect(await violation(version, ["2"])).toBe("23505");
    // Unknown role.
    expect(
      await violation(
        `INSERT INTO ${schema}.api_keys (tenant_id, key_id, key_hash, roles) VALUES ('t1', 'k1', $1, $2)`,
        ["a".repeat(64), ["root"]],
      ),
    ).toBe("23514");
  });

  it("refuses a schema name that would need quoting", async () => {
    await expect(migrate({ databaseUrl: POSTGRES_URL, schema: "Robert'); DROP" })).rejects.toThrow(
      ConfigError,
    );
  });

  it("names the database it cannot reach", async () => {
    const error = await migrate({ databaseUrl: "postgres://postgres:pw@127.0.0.1:1/test" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect(String((error as Error).message)).toMatch(
      /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/,
    );
  });
});

describe("Neon Pool through the relay", () => {
  it("writes and reads rows in one transaction", async () => {
    const windowStart = "2026-11-22T10:01:00.000Z";
    const committed = await withTransaction(pool, async (client) => {
      await client.query("INSERT INTO tenants (tenant_id) VALUES ($1)", ["acme"]);
      await client.query(
        `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name, event_count)
         VALUES ($1, 60, $2, 'web', 'Purchase', 3)`,
        ["acme", windowStart],
      );
      await client.query(
        `INSERT INTO metric_window_values
           (tenant_id, window_seconds, window_start, source, event_name, campaign, currency, value_sum, value_count)
         VALUES ($1, 60, $2, 'web', 'Purchase', '', 'EUR', $3, 3)`,
        ["acme", windowStart, "19.990001"],
      );
      await client.query(
        "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)",
        ["driftline-test", "events", 0, "42"],
      );
      const { rows } = await client.query(
        "SELECT event_count, window_start FROM metric_windows WHERE tenant_id = $1",
        ["acme"],
      );
      return rows;
    });
    expect(committed).toEqual([{ event_count: "3", window_start: new Date(windowStart) }]);

    // Visible to another connection after COMMIT; numeric money keeps every digit.
    const { rows } = await pool.query(
      `SELECT v.value_sum, o.next_offset FROM metric_window_values v, consumer_offsets o
        WHERE v.tenant_id = 'acme' AND o.group_id = 'driftline-test'`,
    );
    expect(rows).toEqual([{ value_sum: "19.990001", next_offset: "42" }]);
  });

  it("rolls back everything when the work throws, and releases the connection", async () => {
    const before = pool.totalCount;
    const failure = new Error("batch failed halfway");
    await expect(
      withTransaction(pool, async (client) => {
        await client.query("INSERT INTO tenants (tenant_id) VALUES ($1)", ["rolled-back"]);
        await client.query(
          "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ('g', 'events', 1, 7)",
        );
        throw failure;
      }),
    ).rejects.toBe(failure);
    const { rows } = await pool.query(
      "SELECT (SELECT count(*) FROM tenants WHERE tenant_id = 'rolled-back')::int AS tenants, " +
        "(SELECT count(*) FROM consumer_offsets WHERE group_id = 'g')::int AS offsets",
    );
    expect(rows).toEqual([{ tenants: 0, offsets: 0 }]);
    expect(pool.idleCount).toBe(pool.totalCount);
    expect(pool.totalCount).toBeLessThanOrEqual(Math.max(before, 3));
  });

  it("rolls back when a statement fails (constraint violation)", async () => {
    const error = await withTransaction(pool, async (client) => {
      await client.query("INSERT INTO tenants (tenant_id) VALUES ('half-done')");
      await client.query("INSERT INTO tenants (tenant_id) VALUES ('half-done')");
    }).catch((e: { code?: string }) => e);
    expect((error as { code?: string }).code).toBe("23505");
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM tenants WHERE tenant_id = 'half-done'",
    );
    expect(rows).toEqual([{ n: 0 }]);
  });

  it("measures a simple query through the relay against pg directly", async () => {
    const direct = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const timeQueries = async (query: () => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) await query();
      const started = performance.now();
      const n = 300;
      for (let i = 0; i < n; i++) await query();
      return (performance.now() - started) / n;
    };
    try {
      const viaRelayMs = await timeQueries(() => pool.query("SELECT $1::int AS x", [1]));
      const directMs = await timeQueries(() => direct.query("SELECT $1::int AS x", [1]));
      console.info(
        `[postgres] simple query: ${viaRelayMs.toFixed(3)} ms via Neon driver + relay, ${directMs.toFixed(3)} ms with pg directly`,
      );
      // Loose bound: the relay adds a hop, not a different order of magnitude.
      expect(viaRelayMs).toBeLessThan(20);
    } finally {
      await direct.end();
    }
  });
});
