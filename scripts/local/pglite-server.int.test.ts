/** The embedded default: PGlite daemon + relay from postgresService, migrated and used via the Neon Pool. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNeonPool, type Pool, withTransaction } from "../../test/support/integration-env";
import { listMigrations, migrate } from "../migrate";
import { loadLocalStackConfig } from "./config";
import { pgliteDatabaseUrl, postgresAnswers } from "./pglite-server";
import { type PostgresEndpoint, postgresService } from "./postgres";
import { runningPid } from "./process";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

const stateDir = mkdtempSync(join(tmpdir(), "driftline-pglite-"));
let config: ReturnType<typeof loadLocalStackConfig>;
let service: ReturnType<typeof postgresService>;
let endpoint: PostgresEndpoint;
let coldStartMs: number;
const pools: Pool[] = [];

function pool(max = 2): Pool {
  const created = createNeonPool({
    databaseUrl: endpoint.databaseUrl,
    wsRelayUrl: endpoint.wsRelayUrl,
    max,
  });
  pools.push(created);
  return created;
}

beforeAll(async () => {
  // An explicit environment: no DATABASE_URL, whatever the test runner's own environment says.
  config = loadLocalStackConfig({
    DRIFTLINE_STATE_DIR: stateDir,
    PGLITE_PORT: String(await freePort()),
    NEON_WS_RELAY_PORT: String(await freePort()),
  });
  service = postgresService(config);
  const started = performance.now();
  endpoint = await service.up();
  coldStartMs = performance.now() - started;
});

afterAll(async () => {
  await Promise.all(pools.map((p) => (p.ended ? undefined : p.end())));
  await service?.down();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("embedded PGlite (no DATABASE_URL)", () => {
  it("starts PGlite and the relay and hands out the PGlite DATABASE_URL", () => {
    expect(endpoint).toEqual({
      url: pgliteDatabaseUrl(config.PGLITE_PORT),
      databaseUrl: pgliteDatabaseUrl(config.PGLITE_PORT),
      wsRelayUrl: `ws://127.0.0.1:${config.NEON_WS_RELAY_PORT}`,
      kind: "pglite",
      startedHere: true,
    });
    expect(runningPid(stateDir, "pglite")).toBeTypeOf("number");
    expect(runningPid(stateDir, "neon-ws-relay")).toBeTypeOf("number");
    console.info(`[pglite] cold start (initdb + daemon + relay): ${Math.round(coldStartMs)} ms`);
  });

  it("takes the migrations, idempotently", async () => {
    expect((await migrate({ databaseUrl: endpoint.databaseUrl })).applied).toEqual(
      listMigrations(),
    );
    expect((await migrate({ databaseUrl: endpoint.databaseUrl })).applied).toEqual([]);
  });

  it("commits and rolls back through the Neon Pool and the relay", async () => {
    const neon = pool();
    await withTransaction(neon, async (client) => {
      await client.query("INSERT INTO tenants (tenant_id) VALUES ($1)", ["acme"]);
      await client.query(
        "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)",
        ["g", "events", 0, "10"],
      );
    });
    await expect(
      withTransaction(neon, async (client) => {
        await client.query("INSERT INTO tenants (tenant_id) VALUES ($1)", ["ghost"]);
        await client.query("UPDATE consumer_offsets SET next_offset = 99 WHERE group_id = 'g'");
        throw new Error("crash before commit");
      }),
    ).rejects.toThrow("crash before commit");
    const { rows } = await neon.query(
      "SELECT (SELECT array_agg(tenant_id ORDER BY tenant_id) FROM tenants) AS tenants, " +
        "(SELECT next_offset FROM consumer_offsets WHERE group_id = 'g') AS next_offset",
    );
    expect(rows).toEqual([{ tenants: ["acme"], next_offset: "10" }]);
  });

  it("keeps concurrent connections of several pools apart (batches and transactions)", async () => {
    // Two pools stand for two processes. pglite-socket's own queue interleaves the
    // Parse/Bind/Execute/Sync of concurrent connections; the session scheduler must not.
    const a = pool(3);
    const b = pool(3);
    const worker = async (p: Pool, w: number) => {
      const wrong: string[] = [];
      for (let i = 0; i < 40; i++) {
        if (i % 10 === 3) {
          // A failing statement in the middle of the traffic.
          await expect(p.query("SELECT 1 / $1::int", [0])).rejects.toThrow(/division by zero/);
          continue;
        }
        if (i % 4 === 0) {
          await withTransaction(p, async (client) => {
            await client.query(
              "INSERT INTO event_time_watermarks (tenant_id, max_event_time) VALUES ($1, now())",
              [`w${w}-e${i}`],
            );
            const { rows } = await client.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM event_time_watermarks WHERE tenant_id LIKE $1",
              [`w${w}-%`],
            );
            if (rows[0]!.n < 1) wrong.push(`tx ${w}/${i}`);
          });
          continue;
        }
        const { rows } = await p.query<{ s: number; tag: string }>(
          "SELECT $1::int + $2::int AS s, $3::text AS tag",
          [i, w, `w${w}`],
        );
        if (rows[0]!.s !== i + w || rows[0]!.tag !== `w${w}`) wrong.push(`query ${w}/${i}`);
      }
      return wrong;
    };
    const wrong = (
      await Promise.all([0, 1, 2].flatMap((w) => [worker(a, w), worker(b, w + 3)]))
    ).flat();
    expect(wrong).toEqual([]);
    const { rows } = await a.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM event_time_watermarks",
    );
    expect(rows).toEqual([{ n: 6 * 10 }]);
  });

  it("keeps named prepared statements per connection, also across reconnects", async () => {
    // The stream processor names its statements; in PGlite's one shared session a second
    // connection (or the same process after a restart) would hit "already exists".
    const statement = { name: "driftline_test_echo", text: "SELECT $1::text AS echo" };
    const a = pool(2);
    const b = pool(2);
    const echoes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a : b).query({ ...statement, values: [`v${i}`] }).then((r) => r.rows[0].echo),
      ),
    );
    expect(echoes).toEqual(Array.from({ length: 12 }, (_, i) => `v${i}`));
    await a.end();
    await b.end();
    const again = pool(1);
    expect((await again.query({ ...statement, values: ["after"] })).rows).toEqual([
      { echo: "after" },
    ]);
    // Connections that went away left no statements behind.
    const { rows } = await again.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE '%driftline_test_echo'",
    );
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("rolls back a transaction whose connection vanished and serves the others", async () => {
    const direct = new pg.Client({ connectionString: endpoint.databaseUrl });
    direct.on("error", () => {});
    await direct.connect();
    await direct.query("BEGIN");
    await direct.query("INSERT INTO tenants (tenant_id) VALUES ('abandoned')");
    // Kill the socket mid-transaction, as a crashed process would.
    (
      direct as unknown as { connection: { stream: { destroy(): void } } }
    ).connection.stream.destroy();

    const { rows } = await pool().query(
      "SELECT count(*)::int AS n FROM tenants WHERE tenant_id = 'abandoned'",
    );
    expect(rows).toEqual([{ n: 0 }]);
  });

  it("measures a simple query via the relay and directly", async () => {
    const neon = pool(1);
    const direct = new pg.Pool({ connectionString: endpoint.databaseUrl, max: 1 });
    const timeQueries = async (query: () => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) await query();
      const started = performance.now();
      for (let i = 0; i < 200; i++) await query();
      return (performance.now() - started) / 200;
    };
    try {
      const viaRelayMs = await timeQueries(() => neon.query("SELECT $1::int AS x", [1]));
      const directMs = await timeQueries(() => direct.query("SELECT $1::int AS x", [1]));
      console.info(
        `[pglite] simple query: ${viaRelayMs.toFixed(3)} ms via Neon driver + relay, ${directMs.toFixed(3)} ms with pg directly`,
      );
      expect(viaRelayMs).toBeLessThan(50);
    } finally {
      await direct.end();
    }
  });

  it("stops both daemons, and a warm restart finds the data again", async () => {
    await Promise.all(pools.splice(0).map((p) => (p.ended ? undefined : p.end())));
    await service.down();
    expect(await postgresAnswers(endpoint.databaseUrl, 500)).toBe(false);
    expect(await service.isReady()).toBe(false);
    expect(runningPid(stateDir, "pglite")).toBeUndefined();
    expect(runningPid(stateDir, "neon-ws-relay")).toBeUndefined();

    const started = performance.now();
    expect((await service.up()).startedHere).toBe(true);
    const warmStartMs = performance.now() - started;
    console.info(
      `[pglite] warm start (daemon + relay, existing data dir): ${Math.round(warmStartMs)} ms`,
    );
    const { rows } = await pool().query("SELECT tenant_id FROM tenants ORDER BY 1");
    expect(rows).toEqual([{ tenant_id: "acme" }]);
    expect((await migrate({ databaseUrl: endpoint.databaseUrl })).applied).toEqual([]);
  });
});
