/** MetricsStore and MetricsReader on Postgres through the Neon serverless Pool (set-based SQL). */
import { DependencyUnavailableError } from "#core/errors";
import {
  type MetricsQuery,
  type MetricsReader,
  type MetricsReadResult,
  MS_TO_TIMESTAMPTZ,
  metricsReadResult,
  metricsStatements,
  type SqlStatement,
  TIMESTAMPTZ_TO_MS,
} from "#core/read-models";
import type { WindowDelta } from "#core/windows";
import { formatMicros } from "#core/windows";
import type { BatchTransaction } from "../batch/batch-transaction";
import type { DimensionCaps, DimensionValue } from "../pipeline/dimension-admission";
import { numberArray, textArray } from "./array-literals";
import type { Pool } from "./create-pool";
import { ROLLUP_CHUNK, SQL } from "./metrics-sql";
import type {
  DedupKey,
  MetricsStore,
  MetricsTransaction,
  OutcomeDelta,
  TenantHour,
} from "./metrics-store";
import { type NamedStatement, type Queryable, timedStatement } from "./timed-query";

/** Timing hook for the db latency histogram. */
export type DbTimer = (operation: string, durationMs: number) => void;

/** Rows deleted per statement when purging dedup entries (short transactions, short locks). */
const PURGE_CHUNK = 10_000;

export class NeonMetricsStore implements MetricsStore, MetricsReader {
  constructor(
    private readonly pool: Pool,
    private readonly timer: DbTimer = () => {},
  ) {}

  openMetrics(tx: BatchTransaction): MetricsTransaction {
    return new NeonMetricsTransaction(tx.sql, this.timer);
  }

  async loadMaxEventTimes(): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ tenant_id: string; ms: string }>(
      `SELECT tenant_id, ${TIMESTAMPTZ_TO_MS("max_event_time")} AS ms FROM event_time_watermarks`,
    );
    return new Map(rows.map((r) => [r.tenant_id, Number(r.ms)]));
  }

  async rollUpHours(): Promise<number> {
    // Three statements, each its own transaction: read the marks; recompute their hours (its
    // snapshot holds every batch behind a mark read in the first); delete the marks whose gen
    // is unchanged. A crash between them leaves marks, and the hours are recomputed again.
    let hours = 0;
    let after = { tenant: "", hourMs: "-62135596800000" }; // before any hour
    for (;;) {
      const started = performance.now();
      try {
        const marks = await this.pool.query<{ tenant_id: string; hour_ms: string; gen: string }>({
          ...SQL.readHourMarks,
          values: [after.tenant, after.hourMs, ROLLUP_CHUNK],
        });
        if (marks.rows.length === 0) return hours;
        const tenants = textArray(marks.rows.map((m) => m.tenant_id));
        const hourMs = numberArray(marks.rows.map((m) => m.hour_ms));
        await this.pool.query({ ...SQL.rollUpHours, values: [tenants, hourMs] });
        await this.pool.query({
          ...SQL.clearHourMarks,
          values: [tenants, hourMs, numberArray(marks.rows.map((m) => m.gen))],
        });
        hours += marks.rows.length;
        const last = marks.rows[marks.rows.length - 1]!;
        after = { tenant: last.tenant_id, hourMs: last.hour_ms };
        if (marks.rows.length < ROLLUP_CHUNK) return hours;
      } finally {
        this.timer("roll_up_hours", performance.now() - started);
      }
    }
  }

  async purgeSeen(beforeMs: number): Promise<number> {
    // first_seen_at has a BRIN index (rows arrive in time order), so finding expired rows reads
    // only the oldest block ranges; chunks keep each delete short.
    let deleted = 0;
    for (;;) {
      const result = await this.pool.query(
        `DELETE FROM seen_events WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM seen_events WHERE first_seen_at < ${MS_TO_TIMESTAMPTZ("$1::bigint")}
           LIMIT ${PURGE_CHUNK}))`,
        [String(Math.floor(beforeMs))],
      );
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < PURGE_CHUNK) return deleted;
    }
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async readWindows(q: MetricsQuery): Promise<MetricsReadResult> {
    try {
      return await this.queryWindows(q);
    } catch (error) {
      throw unavailable("read metrics", error);
    }
  }

  private async queryWindows(q: MetricsQuery): Promise<MetricsReadResult> {
    const statements = metricsStatements(q);
    const run = (s: SqlStatement) => this.pool.query<Record<string, unknown>>(s.text, s.values);
    const [totals, values, predictions, watermark] = await Promise.all([
      run(statements.totals),
      run(statements.values),
      run(statements.predictions),
      run(statements.watermark),
    ]);
    return metricsReadResult(q, {
      totals: totals.rows,
      values: values.rows,
      predictions: predictions.rows,
      watermark: watermark.rows,
    });
  }
}

class NeonMetricsTransaction implements MetricsTransaction {
  constructor(
    private readonly db: Queryable,
    private readonly timer: DbTimer,
  ) {}

  async markSeen(keys: readonly DedupKey[]): Promise<Set<number>> {
    if (keys.length === 0) return new Set();
    let literal = "{";
    let guarded = false;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      literal += `${i === 0 ? "" : ","}${key.digest}`;
      if (key.serverDigest !== undefined) guarded = true;
    }
    // Only batches holding browser copies pay for the guard lookups.
    const result = guarded
      ? await this.run("mark_seen", SQL.markSeenGuarded, [
          `${literal}}`,
          `{${keys.map((k) => k.serverDigest ?? "NULL").join(",")}}`,
        ])
      : await this.run("mark_seen", SQL.markSeen, [`${literal}}`]);
    // ORDINALITY is 1-based; callers index from 0.
    return new Set(result.rows.map((r) => Number(r.idx) - 1));
  }

  async admitDimensionValues(
    values: readonly DimensionValue[],
    caps: DimensionCaps,
  ): Promise<DimensionValue[]> {
    if (values.length === 0) return [];
    const tenants = textArray(values.map((v) => v.tenant));
    await this.run("lock_tenant_dimensions", SQL.lockTenantDimensions, [tenants]);
    const result = await this.run("admit_dimension_values", SQL.admitDimensionValues, [
      tenants,
      textArray(values.map((v) => v.dimension)),
      textArray(values.map((v) => v.value)),
      caps.eventNames,
      caps.campaigns,
    ]);
    return result.rows.map((r) => ({
      tenant: r.t as string,
      dimension: r.d as DimensionValue["dimension"],
      value: r.v as string,
    }));
  }

  async applyWindowDeltas(deltas: readonly WindowDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const dims = (ds: readonly WindowDelta[]) => [
      textArray(ds.map((d) => d.tenant)),
      numberArray(ds.map((d) => Math.round(d.widthMs / 1000))),
      numberArray(ds.map((d) => d.windowStartMs)),
      textArray(ds.map((d) => d.source)),
      textArray(ds.map((d) => d.eventName)),
      textArray(ds.map((d) => d.campaign)),
    ];
    // One row per (window, currency) for the values, after the window rows.
    const withValues = deltas.flatMap((d) => d.values.map((v) => ({ d, v })));
    await this.run("upsert_windows", SQL.upsertWindows, [
      ...dims(deltas),
      numberArray(deltas.map((d) => d.count)),
      numberArray(deltas.map((d) => d.late)),
      numberArray(deltas.map((d) => d.matchQualitySum)),
      numberArray(deltas.map((d) => d.matchQualityCount)),
      numberArray(deltas.map((d) => d.predictions)),
      numberArray(deltas.map((d) => d.conversions)),
      ...dims(withValues.map((x) => x.d)),
      textArray(withValues.map((x) => x.v.currency)),
      numberArray(withValues.map((x) => formatMicros(x.v.valueMicros))),
      numberArray(withValues.map((x) => x.v.valueCount)),
    ]);
  }

  async applyOutcomeDeltas(deltas: readonly OutcomeDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    await this.run("upsert_outcomes", SQL.upsertOutcomes, [
      textArray(deltas.map((d) => d.tenant)),
      numberArray(deltas.map((d) => d.minuteMs)),
      textArray(deltas.map((d) => d.source)),
      numberArray(deltas.map((d) => d.accepted)),
      numberArray(deltas.map((d) => d.duplicates)),
      numberArray(deltas.map((d) => d.rejected)),
      numberArray(deltas.map((d) => d.copies)),
    ]);
  }

  async markHoursPending(hours: readonly TenantHour[]): Promise<void> {
    if (hours.length === 0) return;
    await this.run("mark_hours_pending", SQL.markHoursPending, [
      textArray(hours.map((h) => h.tenant)),
      numberArray(hours.map((h) => h.hourStartMs)),
    ]);
  }

  async advanceWatermarks(
    maxEventTimeMs: ReadonlyMap<string, number>,
    advancedAtMs: number = Date.now(),
  ): Promise<void> {
    if (maxEventTimeMs.size === 0) return;
    const entries = [...maxEventTimeMs];
    await this.run("advance_watermarks", SQL.advanceWatermarks, [
      textArray(entries.map(([t]) => t)),
      numberArray(entries.map(([, ms]) => Math.floor(ms))),
      Math.floor(advancedAtMs),
    ]);
  }

  private run(operation: string, statement: NamedStatement, values: unknown[]) {
    return timedStatement(this.db, this.timer, operation, statement, values);
  }
}

/** A read that failed for any reason is, to an API caller, the metrics store being unavailable. */
export function unavailable(what: string, error: unknown): DependencyUnavailableError {
  return new DependencyUnavailableError(
    `Cannot ${what}: the metrics database is unavailable (${(error as Error).message ?? String(error)}).`,
    { cause: error },
  );
}
