import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aggregateWindows,
  HOUR_MS,
  MINUTE_MS,
  type WindowingSpec,
  type WindowObservation,
} from "#core/windows";
import { type IntegrationEnv, startIntegrationEnv } from "../../test/support/integration-env";
import { hoursOfMinutes } from "../pipeline/metrics-pipeline";
import { type MetricsInTransaction, metricsInTransaction } from "../testing/metrics-in-transaction";
import type { Pool } from "./create-pool";
import type { MetricsQuery } from "./metrics-reader";
import { NeonBatchTransactions } from "./neon-batch-transactions";
import { NeonMetricsStore } from "./neon-metrics-store";

const T0 = Date.parse("2026-03-01T10:00:00Z");
const MINUTES: WindowingSpec = {
  widthsMs: [MINUTE_MS],
  allowedLatenessMs: 120_000,
  maxFutureSkewMs: 300_000,
};
const BOTH: WindowingSpec = { ...MINUTES, widthsMs: [MINUTE_MS, HOUR_MS] };

function event(
  tenant: string,
  eventTimeMs: number,
  extra: Partial<WindowObservation> = {},
): WindowObservation {
  return {
    kind: "event",
    tenant,
    source: "web",
    eventName: "Purchase",
    campaign: "spring",
    eventTimeMs,
    valueMicros: 1_500_000n,
    currency: "EUR",
    matchQuality: 2.5,
    attributed: false,
    ...extra,
  };
}

const hourly = (tenant: string): MetricsQuery => ({
  tenant,
  widthMs: HOUR_MS,
  fromMs: T0 - HOUR_MS,
  toMs: T0 + 3 * HOUR_MS,
  groupBy: ["source", "event_name", "campaign"],
  filters: {},
  limit: 1000,
});

describe("hourly windows rolled up from minute windows (Postgres through the Neon driver)", () => {
  let env: IntegrationEnv;
  let pool: Pool;
  let store: NeonMetricsStore;
  let transactions: NeonBatchTransactions;
  let inTransaction: MetricsInTransaction;

  beforeAll(async () => {
    env = await startIntegrationEnv("rollup", 1);
    pool = env.neonPool(3);
    store = new NeonMetricsStore(pool);
    transactions = new NeonBatchTransactions(pool);
    inTransaction = metricsInTransaction(transactions, store);
  });
  afterAll(async () => {
    await pool?.end();
    await env?.cleanup();
  });

  /** Commits the minute windows of `events` and marks their hours, as a batch does. */
  async function commitMinutes(events: WindowObservation[]): Promise<void> {
    const agg = aggregateWindows(events, MINUTES, { maxEventTimeMs: new Map(), nowMs: T0 });
    await inTransaction(async (tx) => {
      await tx.applyWindowDeltas(agg.deltas);
      await tx.markHoursPending(hoursOfMinutes(agg.deltas));
    });
  }

  const pending = async () =>
    Number(
      (await env.db.query<{ n: string }>("SELECT count(*)::text AS n FROM metric_hours_pending"))
        .rows[0]!.n,
    );

  it("answers hourly reads exactly before the rollup, and the same after it, from hour rows", async () => {
    const tenant = "rollup-a";
    const events = [
      event(tenant, T0 + 1_000),
      event(tenant, T0 + 5 * MINUTE_MS, { matchQuality: 7.5, valueMicros: 250_000n }),
      event(tenant, T0 + 59 * MINUTE_MS, { source: "capi", currency: "USD" }),
      event(tenant, T0 + HOUR_MS + 30_000, { campaign: "" }),
    ];
    await commitMinutes(events);
    // The same events written the way earlier versions did (hour rows in every batch) under
    // another tenant: the reference answer.
    const reference = aggregateWindows(
      events.map((e) => ({ ...e, tenant: "rollup-ref" })),
      BOTH,
      { maxEventTimeMs: new Map(), nowMs: T0 },
    );
    await inTransaction((tx) => tx.applyWindowDeltas(reference.deltas));
    const expected = await store.readWindows(hourly("rollup-ref"));
    expect(expected.totals).toHaveLength(3);
    expect(expected.totals.reduce((n, t) => n + t.events, 0)).toBe(4);

    const storedHours = () =>
      env.db.query("SELECT 1 FROM metric_windows WHERE tenant_id = $1 AND window_seconds = 3600", [
        tenant,
      ]);
    expect((await storedHours()).rowCount).toBe(0);
    expect(await pending()).toBe(2);
    const before = await store.readWindows(hourly(tenant));
    expect(before.totals).toEqual(expected.totals);
    expect(before.values).toEqual(expected.values);

    expect(await store.rollUpHours()).toBe(2);
    expect(await pending()).toBe(0);
    expect((await storedHours()).rowCount).toBe(3);
    const after = await store.readWindows(hourly(tenant));
    expect(after.totals).toEqual(expected.totals);
    expect(after.values).toEqual(expected.values);
  });

  it("replaces an hour's rows with its minutes' sums when it is rolled up again (never adds twice)", async () => {
    const tenant = "rollup-b";
    await commitMinutes([event(tenant, T0 + 2 * MINUTE_MS)]);
    await store.rollUpHours();
    await commitMinutes([event(tenant, T0 + 3 * MINUTE_MS), event(tenant, T0 + 4 * MINUTE_MS)]);
    expect((await store.readWindows(hourly(tenant))).totals.map((t) => t.events)).toEqual([3]);
    await store.rollUpHours();
    await store.rollUpHours(); // nothing marked: a no-op
    const { rows } = await env.db.query<{ events: string; value: string; late: string }>(
      `SELECT w.event_count::text AS events, v.value_sum::text AS value, w.late_count::text AS late
       FROM metric_windows w JOIN metric_window_values v
         USING (tenant_id, window_seconds, window_start, source, event_name, campaign)
       WHERE w.tenant_id = $1 AND w.window_seconds = 3600`,
      [tenant],
    );
    expect(rows).toEqual([{ events: "3", value: "4.500000", late: "0" }]);
  });

  it("leaves an hour marked when a batch that is still open marks it again, and waits for it", async () => {
    const tenant = "rollup-c";
    await commitMinutes([event(tenant, T0 + 10 * MINUTE_MS)]);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let marked!: () => void;
    const markedInOpenBatch = new Promise<void>((r) => {
      marked = r;
    });
    const agg = aggregateWindows([event(tenant, T0 + 11 * MINUTE_MS)], MINUTES, {
      maxEventTimeMs: new Map(),
      nowMs: T0,
    });
    const batch = inTransaction(async (tx) => {
      await tx.applyWindowDeltas(agg.deltas);
      await tx.markHoursPending(hoursOfMinutes(agg.deltas));
      marked();
      await held;
    });
    await markedInOpenBatch;
    let rolledUp = false;
    const rollup = store.rollUpHours().then((hours) => {
      rolledUp = true;
      return hours;
    });
    await new Promise((r) => setTimeout(r, 300));
    // It recomputed the hour without the open batch, and waits to clear the mark the batch holds.
    expect(rolledUp).toBe(false);
    release();
    await batch;
    expect(await rollup).toBe(1);
    const stored = async () =>
      (
        await env.db.query<{ events: string }>(
          "SELECT event_count::text AS events FROM metric_windows WHERE tenant_id = $1 AND window_seconds = 3600",
          [tenant],
        )
      ).rows;
    // The batch renewed the mark, so the hour stays marked and reads stay exact.
    expect(await stored()).toEqual([{ events: "1" }]);
    expect(await pending()).toBe(1);
    expect((await store.readWindows(hourly(tenant))).totals.map((t) => t.events)).toEqual([2]);
    await store.rollUpHours();
    expect(await stored()).toEqual([{ events: "2" }]);
    expect(await pending()).toBe(0);
  });

  it("keeps a stored hour row that counts more records than a recompute from an older snapshot", async () => {
    const tenant = "rollup-d";
    // As if a concurrent rollup with a later snapshot had stored 3 records for the hour, while
    // this rollup's snapshot holds 1.
    const later = aggregateWindows(
      [0, 1, 2].map((i) => event(tenant, T0 + (20 + i) * MINUTE_MS)),
      BOTH,
      { maxEventTimeMs: new Map(), nowMs: T0 },
    );
    await inTransaction((tx) =>
      tx.applyWindowDeltas(later.deltas.filter((d) => d.widthMs === HOUR_MS)),
    );
    await commitMinutes([event(tenant, T0 + 20 * MINUTE_MS)]);
    await store.rollUpHours();
    const { rows } = await env.db.query<{ events: string; count: string }>(
      `SELECT w.event_count::text AS events, v.value_count::text AS count
       FROM metric_windows w JOIN metric_window_values v
         USING (tenant_id, window_seconds, window_start, source, event_name, campaign)
       WHERE w.tenant_id = $1 AND w.window_seconds = 3600`,
      [tenant],
    );
    expect(rows).toEqual([{ events: "3", count: "3" }]);
  });

  it("reads every mark once per rollup, however many there are", async () => {
    const marks = 1_203; // more than one page of marks
    const tenants = Array.from({ length: marks }, (_, i) => `many-${i}`);
    await inTransaction((tx) =>
      tx.markHoursPending(tenants.map((tenant) => ({ tenant, hourStartMs: T0 }))),
    );
    expect(await store.rollUpHours()).toBe(marks);
    expect(await pending()).toBe(0);
  });
});
