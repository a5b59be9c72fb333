// The per-minute totals (metric_minute_totals, kept by trigger) answer an ungrouped minute read
// exactly as the raw window rows do: checked against a plain GROUP BY over metric_windows after
// generate_series seeding, the processor's batch upserts, a rolled-back batch and deletions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetricsQuery, MetricsReadResult } from "#core/read-models";
import { MINUTE_MS } from "#core/windows";
import { type IntegrationEnv, startIntegrationEnv } from "../../test/support/integration-env";
import { windowDelta } from "../testing/fakes";
import { type MetricsInTransaction, metricsInTransaction } from "../testing/metrics-in-transaction";
import type { Pool } from "./create-pool";
import { NeonBatchTransactions } from "./neon-batch-transactions";
import { NeonMetricsStore } from "./neon-metrics-store";

const END = Date.parse("2026-03-02T00:00:00Z");
const MINUTES = 6 * 60;

describe("per-minute totals against the raw window rows", () => {
  let env: IntegrationEnv;
  let pool: Pool;
  let store: NeonMetricsStore;
  let inTransaction: MetricsInTransaction;

  beforeAll(async () => {
    env = await startIntegrationEnv("minutetotals", 1);
    pool = env.neonPool(4);
    store = new NeonMetricsStore(pool);
    inTransaction = metricsInTransaction(new NeonBatchTransactions(pool), store);
    for (const tenant of ["acme", "globex"]) {
      await env.db.query("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
      // 6 h of minutes, 20 keys each, plus the predictions row, as the read benchmark seeds.
      await env.db.query(
        `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
           campaign, event_count, late_count, match_quality_sum, match_quality_count, conversion_count)
         SELECT $1, 60, to_timestamp($2::bigint / 1000.0) - m * interval '1 minute',
           CASE WHEN e % 2 = 0 THEN 'web' ELSE 'capi' END, 'Event' || (e % 10), 'camp' || (e / 10),
           20 + (m + e) % 21, (m + e) % 3, (20 + (m + e) % 21) * 6.25, 20 + (m + e) % 21, (m + e) % 5
         FROM generate_series(1, $3::int) m, generate_series(0, 19) e`,
        [tenant, END, MINUTES],
      );
      await env.db.query(
        `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
           campaign, prediction_count)
         SELECT $1, 60, to_timestamp($2::bigint / 1000.0) - m * interval '1 minute', 'predictions',
           'predictions', '', 30 + m % 7
         FROM generate_series(1, $3::int, 2) m`,
        [tenant, END, MINUTES],
      );
      await env.db.query(
        `INSERT INTO metric_window_values (tenant_id, window_seconds, window_start, source,
           event_name, campaign, currency, value_sum, value_count)
         SELECT tenant_id, 60, window_start, source, event_name, campaign,
           CASE WHEN event_count % 2 = 0 THEN 'USD' ELSE 'EUR' END, event_count * 42.125, event_count
         FROM metric_windows WHERE tenant_id = $1 AND event_name IN ('Event0', 'Event3')`,
        [tenant],
      );
    }
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await env?.cleanup();
  });

  const query = (tenant: string): MetricsQuery => ({
    tenant,
    widthMs: MINUTE_MS,
    fromMs: END - 7 * 3_600_000,
    toMs: END + 3_600_000,
    groupBy: [],
    filters: {},
    limit: 10_000,
  });

  /** The same answer summed over the raw rows (the reference). */
  async function rawRead(tenant: string): Promise<MetricsReadResult> {
    const range = `tenant_id = $1 AND window_seconds = 60 AND window_start >= to_timestamp($2::bigint / 1000.0)
      AND window_start < to_timestamp($3::bigint / 1000.0)`;
    const q = query(tenant);
    const args = [tenant, q.fromMs, q.toMs];
    const ms = "(extract(epoch FROM window_start) * 1000)::bigint";
    const totals = await env.db.query(
      `SELECT ${ms} AS s, sum(event_count) AS e, sum(late_count) AS l, sum(match_quality_sum) AS qs,
         sum(match_quality_count) AS qc, sum(conversion_count) AS c
       FROM metric_windows WHERE ${range} AND source <> 'predictions'
       GROUP BY window_start ORDER BY window_start`,
      args,
    );
    const values = await env.db.query(
      `SELECT ${ms} AS s, currency, sum(value_sum)::text AS vs, sum(value_count) AS vc
       FROM metric_window_values WHERE ${range} AND source <> 'predictions'
       GROUP BY window_start, currency ORDER BY window_start, currency`,
      args,
    );
    const predictions = await env.db.query(
      `SELECT ${ms} AS s, sum(prediction_count) AS p
       FROM metric_windows WHERE ${range} AND source = 'predictions'
       GROUP BY window_start ORDER BY window_start`,
      args,
    );
    const watermark = await env.db.query(
      "SELECT (extract(epoch FROM max_event_time) * 1000)::bigint AS ms FROM event_time_watermarks WHERE tenant_id = $1",
      [tenant],
    );
    return {
      totals: totals.rows.map((r) => ({
        windowStartMs: Number(r.s),
        events: Number(r.e),
        late: Number(r.l),
        matchQualitySum: Number(r.qs),
        matchQualityCount: Number(r.qc),
        conversions: Number(r.c),
      })),
      values: values.rows.map((r) => ({
        windowStartMs: Number(r.s),
        currency: r.currency,
        valueSum: r.vs,
        valueCount: Number(r.vc),
      })),
      predictions: predictions.rows.map((r) => ({
        windowStartMs: Number(r.s),
        predictions: Number(r.p),
      })),
      maxEventTimeMs: watermark.rows[0] === undefined ? undefined : Number(watermark.rows[0].ms),
    };
  }

  async function expectSameAsRaw(tenant: string): Promise<MetricsReadResult> {
    const read = await store.readWindows(query(tenant));
    expect(read).toEqual(await rawRead(tenant));
    return read;
  }

  it("reads the totals, not the raw rows, for an ungrouped minute read", async () => {
    const { rows } = await env.db.query("SELECT count(*)::int AS n FROM metric_minute_totals");
    expect(rows[0].n).toBe(2 * MINUTES);
    const read = await expectSameAsRaw("acme");
    expect(read.totals).toHaveLength(MINUTES);
    expect(read.predictions).toHaveLength(MINUTES / 2);
    expect(read.values.length).toBeGreaterThan(MINUTES);
  });

  it("stays equal through the processor's batch upserts, a rollback and deletions", async () => {
    const t = END - 30 * MINUTE_MS;
    await inTransaction(async (tx) => {
      await tx.applyWindowDeltas([
        // Existing keys (upserts add to them) and new ones, in a new minute too.
        windowDelta({
          windowStartMs: t,
          source: "web",
          eventName: "Event0",
          campaign: "camp0",
          count: 5,
          late: 1,
          matchQualitySum: 31.5,
          matchQualityCount: 5,
          conversions: 2,
          values: [{ currency: "USD", valueMicros: 12_345_678n, valueCount: 5 }],
        }),
        windowDelta({
          windowStartMs: t,
          source: "capi",
          eventName: "Lead",
          campaign: "",
          count: 3,
          values: [{ currency: "GBP", valueMicros: 1_000_000n, valueCount: 1 }],
        }),
        windowDelta({
          windowStartMs: END + 5 * MINUTE_MS,
          source: "web",
          eventName: "Purchase",
          count: 7,
        }),
        windowDelta({
          windowStartMs: END + 6 * MINUTE_MS,
          source: "predictions",
          eventName: "predictions",
          count: 0,
          predictions: 11,
        }),
      ]);
    });
    await expectSameAsRaw("acme");
    // A batch that fails after writing leaves neither its window rows nor its totals.
    await expect(
      inTransaction(async (tx) => {
        await tx.applyWindowDeltas([windowDelta({ windowStartMs: t, count: 1000 })]);
        throw new Error("simulated failure");
      }),
    ).rejects.toThrow("simulated failure");
    await expectSameAsRaw("acme");
    // Retention-style deletions: whole minutes, and some keys of a minute.
    await env.db.query(
      `DELETE FROM metric_window_values WHERE tenant_id = 'acme' AND window_seconds = 60
         AND window_start < to_timestamp($1::bigint / 1000.0)`,
      [END - 5 * 3_600_000],
    );
    await env.db.query(
      `DELETE FROM metric_windows WHERE tenant_id = 'acme' AND window_seconds = 60
         AND (window_start < to_timestamp($1::bigint / 1000.0) OR event_name = 'Event7')`,
      [END - 5 * 3_600_000],
    );
    const after = await expectSameAsRaw("acme");
    expect(after.totals.length).toBeLessThan(MINUTES);
    const { rows } = await env.db.query(
      `SELECT count(*)::int AS n FROM metric_minute_totals WHERE tenant_id = 'acme'
         AND window_start < to_timestamp($1::bigint / 1000.0)`,
      [END - 5 * 3_600_000],
    );
    expect(rows[0].n).toBe(0);
    // The other tenant is untouched.
    await expectSameAsRaw("globex");
  });
});
