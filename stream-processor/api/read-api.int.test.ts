import { createHash } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregateWindows, HOUR_MS, MINUTE_MS } from "#core/windows";
import { type IntegrationEnv, startIntegrationEnv } from "../../test/support/integration-env";
import { systemClock } from "../clock/system-clock";
import type { Pool } from "../db/create-pool";
import { NeonApiKeyStore } from "../db/neon-api-key-store";
import { NeonBatchTransactions } from "../db/neon-batch-transactions";
import { NeonMetricsStore } from "../db/neon-metrics-store";
import { metricsInTransaction } from "../testing/metrics-in-transaction";
import { createApi } from "./create-api";
import { metricsResponseSchema } from "./metrics-route";

const T0 = Date.parse("2026-03-01T10:15:00Z");
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("read API over Postgres (tenant isolation)", () => {
  let env: IntegrationEnv;
  let pool: Pool;
  let app: ReturnType<typeof createApi>;

  beforeAll(async () => {
    env = await startIntegrationEnv("readapi", 1);
    pool = env.neonPool(2);
    await env.db.query(`INSERT INTO tenants (tenant_id) VALUES ('acme'), ('globex')`);
    await env.db.query(
      `INSERT INTO api_keys (tenant_id, key_id, key_hash, roles) VALUES
         ('acme', 'a1', $1, '{admin}'), ('globex', 'g1', $2, '{admin}')`,
      [sha("acme-secret"), sha("globex-secret")],
    );
    // Both tenants have the same event name, campaign and windows: only tenant_id tells them apart.
    const store = new NeonMetricsStore(pool);
    const inTransaction = metricsInTransaction(new NeonBatchTransactions(pool), store);
    const observe = (tenant: string, n: number, value: bigint) =>
      Array.from({ length: n }, (_, i) => ({
        kind: "event" as const,
        tenant,
        source: "web",
        eventName: "Purchase",
        campaign: "spring",
        eventTimeMs: T0 + (i % 2) * MINUTE_MS,
        valueMicros: value,
        currency: "USD",
        matchQuality: 5,
        attributed: i === 0,
      }));
    const { deltas } = aggregateWindows(
      [...observe("acme", 4, 1_000_000n), ...observe("globex", 10, 7_000_000n)],
      { widthsMs: [MINUTE_MS, HOUR_MS], allowedLatenessMs: 120_000, maxFutureSkewMs: 300_000 },
      { maxEventTimeMs: new Map(), nowMs: T0 + HOUR_MS },
    );
    await inTransaction((tx) => tx.applyWindowDeltas(deltas));
    app = createApi({
      reader: store,
      keys: new NeonApiKeyStore(pool),
      clock: systemClock,
      log: pino({ level: "silent" }),
      readiness: async () => ({}),
      prometheus: async () => ({ contentType: "text/plain", body: "" }),
      readRoles: ["admin"],
      keyCacheTtlMs: 0,
      maxRows: 100,
      allowedLatenessMs: 120_000,
    });
  });
  afterAll(async () => {
    await pool?.end();
    await env?.cleanup();
  });

  const read = async (key: string, query: string) => {
    const res = await app.request(`/v1/metrics?${query}`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: await res.json() };
  };
  const range = `from=${T0 - HOUR_MS}&to=${T0 + HOUR_MS}`;

  it.each([
    ["acme", "acme-secret", [2, 2], 2],
    ["globex", "globex-secret", [5, 5], 35],
  ])("%s sees only its own windows", async (tenant, key, perMinute, usdPerMinute) => {
    const { status, body } = await read(key, `${range}&groupBy=event_name,campaign`);
    expect(status).toBe(200);
    const parsed = metricsResponseSchema.parse(body);
    expect(parsed.tenant).toBe(tenant);
    expect(parsed.windows.map((w) => w.events)).toEqual(perMinute);
    expect(parsed.windows.map((w) => w.values.USD)).toEqual([usdPerMinute, usdPerMinute]);
    expect(parsed.windows.every((w) => w.eventName === "Purchase" && w.campaign === "spring")).toBe(
      true,
    );
  });

  it("hourly rollups hold the same totals", async () => {
    const { body } = await read("globex-secret", `${range}&granularity=hour`);
    const parsed = metricsResponseSchema.parse(body);
    expect(parsed.windows).toHaveLength(1);
    expect(parsed.windows[0]).toMatchObject({
      events: 10,
      values: { USD: 70 },
      conversions: 1,
      matchQuality: 5,
    });
  });

  it("cannot be pointed at another tenant, and refuses unknown keys", async () => {
    expect((await read("acme-secret", `${range}&tenant=globex`)).status).toBe(400);
    expect((await read("not-a-key", range)).status).toBe(401);
    const revoked = await env.db.query(
      `UPDATE api_keys SET revoked_at = now() WHERE key_id = 'a1'`,
    );
    expect(revoked.rowCount).toBe(1);
    expect((await read("acme-secret", range)).status).toBe(401);
  });
});
