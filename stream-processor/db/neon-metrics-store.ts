/** MetricsStore and MetricsReader on Postgres through the Neon serverless Pool (set-based SQL). */

import { DependencyUnavailableError, ValidationError } from "#core/errors";
import {
  type MetricsQuery,
  type MetricsReader,
  type MetricsReadResult,
  metricsReadResult,
  metricsStatements,
  type SqlStatement,
} from "#core/read-models";
import type { WindowDelta } from "#core/windows";
import { formatMicros } from "#core/windows";
import type { DimensionCaps, DimensionValue } from "../pipeline/dimension-admission";
import type {
  DedupKey,
  MetricsStore,
  MetricsTransaction,
  OffsetAdvance,
  OffsetAdvanceResult,
  TenantHour,
} from "../ports/metrics-store";
import { nullableNumberArray, numberArray, textArray } from "./array-literals";
import { type Pool, type PoolClient, withTransaction } from "./create-pool";

/** Timing hook for the db latency histogram. */
export type DbTimer = (operation: string, durationMs: number) => void;

/** Epoch ms (bigint parameter) to timestamptz, exactly. */
const MS_TO_TIMESTAMPTZ = (ms: string) =>
  `('epoch'::timestamptz + ${ms} * interval '1 millisecond')`;
/** timestamptz to epoch ms (bigint), exactly (extract(epoch) is numeric). */
const TIMESTAMPTZ_TO_MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint`;

/** Minute rows' columns that an hour row sums, in metric_windows' column order. */
const WINDOW_COUNTS = [
  "event_count",
  "late_count",
  "match_quality_sum",
  "match_quality_count",
  "prediction_count",
  "conversion_count",
] as const;
const WINDOW_KEY = "tenant_id, window_seconds, window_start, source, event_name, campaign";

/** Join condition: `m`'s rows are the minute rows of the hour `h` (h.tenant_id, h.hour_start). */
const MINUTES_OF_HOUR = (m: string, h: string) =>
  `${m}.tenant_id = ${h}.tenant_id AND ${m}.window_seconds = 60
   AND ${m}.window_start >= ${h}.hour_start AND ${m}.window_start < ${h}.hour_start + interval '1 hour'`;

// Statements are named so that each pooled connection parses and plans them once.
const SQL = {
  advanceOffset: {
    name: "driftline_advance_offset",
    // Compare-and-set: a stored row is updated only if it holds the expected offset; with no
    // expectation (NULL never equals) only a missing row is inserted.
    text: `INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)
           VALUES ($1, $2, $3, $5::bigint)
           ON CONFLICT (group_id, topic, partition) DO UPDATE
             SET next_offset = EXCLUDED.next_offset, updated_at = now()
             WHERE o.next_offset = $4::bigint
           RETURNING 1`,
  },
  advanceOffsets: {
    name: "driftline_advance_offsets",
    // advanceOffset for many partitions in one round trip: stored rows move only from the
    // expected offset (a concurrent commit makes the UPDATE re-check the row it waited for),
    // missing rows are inserted only where nothing was expected. Answers the 1-based positions
    // that moved; the others were fenced.
    text: `WITH input AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])
               WITH ORDINALITY AS i(group_id, topic, partition, expected, next_offset, idx)
           ), updated AS (
             UPDATE consumer_offsets AS o
             SET next_offset = input.next_offset, updated_at = now()
             FROM input
             WHERE o.group_id = input.group_id AND o.topic = input.topic
               AND o.partition = input.partition AND o.next_offset = input.expected
             RETURNING input.idx
           ), inserted AS (
             INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
             SELECT group_id, topic, partition, next_offset FROM input WHERE expected IS NULL
             ORDER BY group_id, topic, partition
             ON CONFLICT DO NOTHING
             RETURNING group_id, topic, partition
           )
           SELECT idx FROM updated
           UNION ALL
           SELECT input.idx FROM inserted JOIN input USING (group_id, topic, partition)`,
  },
  readOffset: {
    name: "driftline_read_offset",
    text: `SELECT next_offset::text AS next_offset FROM consumer_offsets
           WHERE group_id = $1 AND topic = $2 AND partition = $3`,
  },
  markSeen: {
    name: "driftline_mark_seen",
    // Inserted in key order so that concurrent batches sharing keys lock them in the same order;
    // the answer is the 1-based positions of keys that were already there.
    text: `WITH input AS (
             SELECT * FROM unnest($1::uuid[]) WITH ORDINALITY AS i(key, idx)
           ), inserted AS (
             INSERT INTO seen_events (key)
             SELECT key FROM input ORDER BY key
             ON CONFLICT DO NOTHING
             RETURNING key
           )
           SELECT input.idx FROM input
           LEFT JOIN inserted USING (key)
           WHERE inserted.key IS NULL`,
  },
  markSeenGuarded: {
    name: "driftline_mark_seen_guarded",
    // markSeen for batches with browser copies: a key whose guard (the server digest of a
    // browser copy) is already remembered is a duplicate too. Its own key is still inserted, so a
    // later browser repeat finds it directly. Server keys have no guard (NULL).
    text: `WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS i(key, guard, idx)
           ), inserted AS (
             INSERT INTO seen_events (key)
             SELECT key FROM input ORDER BY key
             ON CONFLICT DO NOTHING
             RETURNING key
           )
           SELECT input.idx FROM input
           LEFT JOIN inserted USING (key)
           WHERE inserted.key IS NULL
              OR (input.guard IS NOT NULL
                  AND EXISTS (SELECT 1 FROM seen_events s WHERE s.key = input.guard))`,
  },
  lockTenantDimensions: {
    name: "driftline_lock_tenant_dimensions",
    // One admission per tenant at a time (until commit), in tenant order so two transactions
    // never wait on each other crosswise; taken only by batches with values not seen before.
    text: `SELECT pg_advisory_xact_lock(hashtextextended('driftline.tenant_dimensions:' || t, 0))
           FROM (SELECT DISTINCT t FROM unnest($1::text[]) AS u(t) ORDER BY t) AS tenants`,
  },
  admitDimensionValues: {
    name: "driftline_admit_dimension_values",
    // Values already admitted, plus new ones in the order given while the tenant's dimension has
    // room (its cap minus the values it holds). Answers both.
    text: `WITH input AS (
             SELECT t, d, v, min(idx) AS idx
             FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i(t, d, v, idx)
             GROUP BY t, d, v
           ), known AS (
             SELECT i.t, i.d, i.v FROM input i
             JOIN tenant_dimension_values x
               ON x.tenant_id = i.t AND x.dimension = i.d AND x.value = i.v
           ), used AS (
             SELECT x.tenant_id AS t, x.dimension AS d, count(*) AS n
             FROM tenant_dimension_values x
             WHERE (x.tenant_id, x.dimension) IN (SELECT DISTINCT t, d FROM input)
             GROUP BY 1, 2
           ), fresh AS (
             SELECT i.t, i.d, i.v, row_number() OVER (PARTITION BY i.t, i.d ORDER BY i.idx) AS rank
             FROM input i
             WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.t = i.t AND k.d = i.d AND k.v = i.v)
           ), inserted AS (
             INSERT INTO tenant_dimension_values (tenant_id, dimension, value)
             SELECT f.t, f.d, f.v FROM fresh f LEFT JOIN used u ON u.t = f.t AND u.d = f.d
             WHERE f.rank <= CASE f.d WHEN 'event_name' THEN $4::bigint ELSE $5::bigint END
                             - coalesce(u.n, 0)
             ORDER BY 1, 2, 3
             ON CONFLICT DO NOTHING
             RETURNING tenant_id AS t, dimension AS d, value AS v
           )
           SELECT t, d, v FROM known UNION ALL SELECT t, d, v FROM inserted`,
  },
  upsertWindows: {
    name: "driftline_upsert_windows",
    // Windows and their per-currency values in one statement: the value rows' foreign key is
    // checked at the end of the statement, when the window rows of the first CTE exist.
    text: `WITH windows AS (
             INSERT INTO metric_windows AS w (tenant_id, window_seconds, window_start, source,
               event_name, campaign, event_count, late_count, match_quality_sum, match_quality_count,
               prediction_count, conversion_count)
             SELECT t, s, ${MS_TO_TIMESTAMPTZ("ms")}, src, n, c, ec, lc, mqs, mqc, pc, cc
             FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                         $7::bigint[], $8::bigint[], $9::float8[], $10::bigint[], $11::bigint[], $12::bigint[])
               AS d(t, s, ms, src, n, c, ec, lc, mqs, mqc, pc, cc)
             ON CONFLICT (tenant_id, window_seconds, window_start, source, event_name, campaign) DO UPDATE SET
               event_count = w.event_count + EXCLUDED.event_count,
               late_count = w.late_count + EXCLUDED.late_count,
               match_quality_sum = w.match_quality_sum + EXCLUDED.match_quality_sum,
               match_quality_count = w.match_quality_count + EXCLUDED.match_quality_count,
               prediction_count = w.prediction_count + EXCLUDED.prediction_count,
               conversion_count = w.conversion_count + EXCLUDED.conversion_count,
               updated_at = now()
           ), window_values AS (
             INSERT INTO metric_window_values AS v (tenant_id, window_seconds, window_start, source,
               event_name, campaign, currency, value_sum, value_count)
             SELECT t, s, ${MS_TO_TIMESTAMPTZ("ms")}, src, n, c, cur, vs, vc
             FROM unnest($13::text[], $14::int[], $15::bigint[], $16::text[], $17::text[], $18::text[],
                         $19::text[], $20::numeric[], $21::bigint[])
               AS d(t, s, ms, src, n, c, cur, vs, vc)
             ON CONFLICT (tenant_id, window_seconds, window_start, source, event_name, campaign, currency)
             DO UPDATE SET
               value_sum = v.value_sum + EXCLUDED.value_sum,
               value_count = v.value_count + EXCLUDED.value_count
           )
           SELECT 1`,
  },
  markHoursPending: {
    name: "driftline_mark_hours_pending",
    // Every mark changes gen (see rollUpHours) and holds the row until the batch commits; in
    // key order, so concurrent batches take the rows in the same order.
    text: `INSERT INTO metric_hours_pending AS p (tenant_id, hour_start)
           SELECT t, ${MS_TO_TIMESTAMPTZ("ms")} FROM unnest($1::text[], $2::bigint[]) AS d(t, ms)
           ORDER BY 1, 2
           ON CONFLICT (tenant_id, hour_start) DO UPDATE SET gen = p.gen + 1`,
  },
  readHourMarks: {
    name: "driftline_read_hour_marks",
    // Keyset pages: one pass over the marks, whatever batches mark meanwhile.
    text: `SELECT tenant_id, ${TIMESTAMPTZ_TO_MS("hour_start")}::text AS hour_ms, gen::text AS gen
           FROM metric_hours_pending
           WHERE (tenant_id, hour_start) > ($1::text, ${MS_TO_TIMESTAMPTZ("$2::bigint")})
           ORDER BY tenant_id, hour_start LIMIT $3`,
  },
  rollUpHours: {
    name: "driftline_roll_up_hours",
    // Replaces the hour rows of the given hours (windows, then values, whose foreign key is
    // checked at the end of the statement) with the sums of their minute rows. A stored row that
    // counts more records came from a later snapshot (a concurrent rollup): it stays.
    text: `WITH hours AS (
             SELECT t AS tenant_id, ${MS_TO_TIMESTAMPTZ("ms")} AS hour_start
             FROM unnest($1::text[], $2::bigint[]) AS d(t, ms)
           ), windows AS (
             INSERT INTO metric_windows AS w (${WINDOW_KEY}, ${WINDOW_COUNTS.join(", ")})
             SELECT m.tenant_id, 3600, h.hour_start, m.source, m.event_name, m.campaign,
                    ${WINDOW_COUNTS.map((c) => `sum(m.${c})`).join(", ")}
             FROM hours h
             JOIN metric_windows m ON ${MINUTES_OF_HOUR("m", "h")}
             GROUP BY m.tenant_id, h.hour_start, m.source, m.event_name, m.campaign
             ORDER BY 1, 3, 4, 5, 6
             ON CONFLICT (${WINDOW_KEY}) DO UPDATE SET
               ${WINDOW_COUNTS.map((c) => `${c} = EXCLUDED.${c}`).join(", ")}, updated_at = now()
             WHERE EXCLUDED.event_count + EXCLUDED.prediction_count >= w.event_count + w.prediction_count
           ), window_values AS (
             INSERT INTO metric_window_values AS v (${WINDOW_KEY}, currency, value_sum, value_count)
             SELECT m.tenant_id, 3600, h.hour_start, m.source, m.event_name, m.campaign, m.currency,
                    sum(m.value_sum), sum(m.value_count)
             FROM hours h
             JOIN metric_window_values m ON ${MINUTES_OF_HOUR("m", "h")}
             GROUP BY m.tenant_id, h.hour_start, m.source, m.event_name, m.campaign, m.currency
             ORDER BY 1, 3, 4, 5, 6, 7
             ON CONFLICT (${WINDOW_KEY}, currency) DO UPDATE SET
               value_sum = EXCLUDED.value_sum, value_count = EXCLUDED.value_count
             WHERE EXCLUDED.value_count >= v.value_count
           )
           SELECT 1`,
  },
  clearHourMarks: {
    name: "driftline_clear_hour_marks",
    // Only marks no batch has renewed since they were read; waits for a batch holding one.
    text: `DELETE FROM metric_hours_pending p
           USING unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(t, ms, gen)
           WHERE p.tenant_id = d.t AND p.hour_start = ${MS_TO_TIMESTAMPTZ("d.ms")} AND p.gen = d.gen`,
  },
  advanceWatermarks: {
    name: "driftline_advance_watermarks",
    text: `INSERT INTO event_time_watermarks AS w (tenant_id, max_event_time)
           SELECT t, ${MS_TO_TIMESTAMPTZ("ms")} FROM unnest($1::text[], $2::bigint[]) AS d(t, ms)
           ORDER BY t
           ON CONFLICT (tenant_id) DO UPDATE SET
             max_event_time = GREATEST(w.max_event_time, EXCLUDED.max_event_time),
             updated_at = now()`,
  },
} as const;

/** Hours recomputed per rollup statement. */
const ROLLUP_CHUNK = 500;

/** Rows deleted per statement when purging dedup entries (short transactions, short locks). */
const PURGE_CHUNK = 10_000;

export class NeonMetricsStore implements MetricsStore, MetricsReader {
  constructor(
    private readonly pool: Pool,
    private readonly timer: DbTimer = () => {},
  ) {}

  async inTransaction<T>(fn: (tx: MetricsTransaction) => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await withTransaction(this.pool, (client) =>
        fn(new NeonMetricsTransaction(client, this.timer)),
      );
    } catch (error) {
      throw refusalOrSame(error);
    } finally {
      this.timer("transaction", performance.now() - started);
    }
  }

  async loadNextOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<Map<number, string>> {
    const { rows } = await this.pool.query<{ partition: number; next_offset: string }>(
      `SELECT partition, next_offset::text AS next_offset FROM consumer_offsets
       WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])`,
      [groupId, topic, partitions],
    );
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
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
    private readonly client: PoolClient,
    private readonly timer: DbTimer,
  ) {}

  get connection(): PoolClient {
    return this.client;
  }

  async advanceOffset(a: OffsetAdvance): Promise<OffsetAdvanceResult> {
    const result = await this.run("advance_offset", SQL.advanceOffset, [
      a.groupId,
      a.topic,
      a.partition,
      a.expectedNextOffset,
      a.nextOffset,
    ]);
    if ((result.rowCount ?? 0) === 1) return { ok: true };
    const stored = await this.run("read_offset", SQL.readOffset, [a.groupId, a.topic, a.partition]);
    return {
      ok: false,
      storedNextOffset: (stored.rows[0]?.next_offset as string | undefined) ?? null,
    };
  }

  async advanceOffsets(advances: readonly OffsetAdvance[]): Promise<OffsetAdvanceResult[]> {
    if (advances.length === 1) return [await this.advanceOffset(advances[0]!)];
    if (advances.length === 0) return [];
    const result = await this.run("advance_offsets", SQL.advanceOffsets, [
      textArray(advances.map((a) => a.groupId)),
      textArray(advances.map((a) => a.topic)),
      numberArray(advances.map((a) => a.partition)),
      nullableNumberArray(advances.map((a) => a.expectedNextOffset)),
      numberArray(advances.map((a) => a.nextOffset)),
    ]);
    const moved = new Set(result.rows.map((r) => Number(r.idx) - 1));
    const results: OffsetAdvanceResult[] = [];
    for (const [i, a] of advances.entries()) {
      if (moved.has(i)) {
        results.push({ ok: true });
        continue;
      }
      // Fenced (rare: another member took the partition over): say what the store holds.
      const stored = await this.run("read_offset", SQL.readOffset, [
        a.groupId,
        a.topic,
        a.partition,
      ]);
      results.push({
        ok: false,
        storedNextOffset: (stored.rows[0]?.next_offset as string | undefined) ?? null,
      });
    }
    return results;
  }

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

  async markHoursPending(hours: readonly TenantHour[]): Promise<void> {
    if (hours.length === 0) return;
    await this.run("mark_hours_pending", SQL.markHoursPending, [
      textArray(hours.map((h) => h.tenant)),
      numberArray(hours.map((h) => h.hourStartMs)),
    ]);
  }

  async advanceWatermarks(maxEventTimeMs: ReadonlyMap<string, number>): Promise<void> {
    if (maxEventTimeMs.size === 0) return;
    const entries = [...maxEventTimeMs];
    await this.run("advance_watermarks", SQL.advanceWatermarks, [
      textArray(entries.map(([t]) => t)),
      numberArray(entries.map(([, ms]) => Math.floor(ms))),
    ]);
  }

  private async run(
    operation: string,
    statement: { name: string; text: string },
    values: unknown[],
  ) {
    const started = performance.now();
    try {
      return await this.client.query<Record<string, unknown>>({ ...statement, values });
    } finally {
      this.timer(operation, performance.now() - started);
    }
  }
}

/** A read that failed for any reason is, to an API caller, the metrics store being unavailable. */
export function unavailable(what: string, error: unknown): DependencyUnavailableError {
  return new DependencyUnavailableError(
    `Cannot ${what}: the metrics database is unavailable (${(error as Error).message ?? String(error)}).`,
    { cause: error },
  );
}

/**
 * The database refusing the data itself (SQLSTATE class 22 data exception, 23 integrity
 * violation) becomes a ValidationError, which the batch handler isolates and dead-letters;
 * everything else (connection lost, serialization failure, missing table) stays as it is and
 * is retried.
 */
function refusalOrSame(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)) {
    return new ValidationError(
      `Postgres refused the data (${code}): ${(error as Error).message}`,
      [],
      {
        cause: error,
        context: { sqlstate: code },
      },
    );
  }
  return error;
}
