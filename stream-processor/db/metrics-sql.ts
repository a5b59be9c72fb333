/** The metrics store's SQL: named statements for windows, dedup, dimension admission and the hourly rollup. */

// The epoch-ms conversions and the summed columns are the read contract's: one definition, so
// what the writes store and what the reads sum cannot drift apart.
import { MS_TO_TIMESTAMPTZ, TIMESTAMPTZ_TO_MS, WINDOW_COUNTS } from "#core/read-models";

export const WINDOW_KEY = "tenant_id, window_seconds, window_start, source, event_name, campaign";

/** Join condition: `m`'s rows are the minute rows of the hour `h` (h.tenant_id, h.hour_start). */
export const MINUTES_OF_HOUR = (m: string, h: string) =>
  `${m}.tenant_id = ${h}.tenant_id AND ${m}.window_seconds = 60
   AND ${m}.window_start >= ${h}.hour_start AND ${m}.window_start < ${h}.hour_start + interval '1 hour'`;

// Statements are named so that each pooled connection parses and plans them once.
export const SQL = {
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
  upsertOutcomes: {
    name: "driftline_upsert_outcomes",
    // In key order, so concurrent batches take the rows in the same order.
    text: `INSERT INTO ingest_outcome_windows AS o
             (tenant_id, window_start, source, accepted, duplicates, rejected, copies)
           SELECT t, ${MS_TO_TIMESTAMPTZ("ms")}, s, a, d, r, c
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[],
                       $6::bigint[], $7::bigint[]) AS x(t, ms, s, a, d, r, c)
           ORDER BY 1, 2, 3
           ON CONFLICT (tenant_id, window_start, source) DO UPDATE SET
             accepted = o.accepted + EXCLUDED.accepted,
             duplicates = o.duplicates + EXCLUDED.duplicates,
             rejected = o.rejected + EXCLUDED.rejected,
             copies = o.copies + EXCLUDED.copies`,
  },
  advanceWatermarks: {
    name: "driftline_advance_watermarks",
    // advanced_at: the processing time the newest event time last moved forward (the idle close
    // of silent tenants measures from it); a batch that does not raise it leaves it alone.
    text: `INSERT INTO event_time_watermarks AS w (tenant_id, max_event_time, advanced_at)
           SELECT t, ${MS_TO_TIMESTAMPTZ("ms")}, ${MS_TO_TIMESTAMPTZ("$3::bigint")}
           FROM unnest($1::text[], $2::bigint[]) AS d(t, ms)
           ORDER BY t
           ON CONFLICT (tenant_id) DO UPDATE SET
             max_event_time = GREATEST(w.max_event_time, EXCLUDED.max_event_time),
             advanced_at = CASE WHEN EXCLUDED.max_event_time > w.max_event_time
                                THEN EXCLUDED.advanced_at ELSE w.advanced_at END,
             updated_at = now()`,
  },
} as const;

/** Hours recomputed per rollup statement. */
export const ROLLUP_CHUNK = 500;
