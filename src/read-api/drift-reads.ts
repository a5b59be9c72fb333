/** Drift reads: one page of drift entries (an evaluation of one feature, its tests side by side). */
import type { DriftBins, DriftEntry, DriftPage, DriftQuery } from "./read-store";
import { MS, nullableNumber, type QueryRows, type Row, TS, TS_US, US } from "./sql-rows";

/**
 * One entry per evaluation of one feature: drift_entries holds the tests of each (psi, ks, js)
 * side by side (a trigger folds every drift_results insert into it), so a page is one range of
 * the (evaluated_at, first_id) index, read with the LIMIT.
 */
const DRIFT_SQL = (filters: string, limit: number) => `
  SELECT ${US("a.evaluated_at")} AS at_us, a.first_id::text AS id, ${MS("a.evaluated_at")} AS at_ms,
    a.version, a.feature, a.window_kind, ${MS("a.window_start")} AS ws, ${MS("a.window_end")} AS we,
    a.current_size::text AS size, a.psi, a.ks, a.ks_p, a.js,
    coalesce(a.feature_drift, a.any_drift) AS drifted, a.bins
  FROM drift_entries a
  WHERE a.tenant_id = $1 AND a.model_name = $2
    AND a.evaluated_at >= ${TS("$3")} AND a.evaluated_at < ${TS("$4")} ${filters}
  ORDER BY a.evaluated_at, a.first_id
  LIMIT ${limit}`;

export async function listDrift(query: QueryRows, q: DriftQuery): Promise<DriftPage> {
  const values: unknown[] = [q.tenant, q.model, String(q.fromMs), String(q.toMs)];
  let filters = "";
  if (q.version !== undefined) {
    values.push(q.version);
    filters += ` AND a.version = $${values.length}`;
  }
  if (q.feature !== undefined) {
    values.push(q.feature);
    filters += ` AND a.feature = $${values.length}`;
  }
  if (q.after !== undefined) {
    values.push(q.after.atUs, q.after.id);
    filters += ` AND (a.evaluated_at, a.first_id) > (${TS_US(`$${values.length - 1}`)}, $${values.length}::bigint)`;
  }
  const rows = await query(DRIFT_SQL(filters, q.limit + 1), values);
  return { entries: rows.map(driftEntry) };
}

function driftEntry(r: Row): DriftEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.id) },
    evaluatedAtMs: Number(r.at_ms),
    version: String(r.version),
    feature: String(r.feature),
    window: {
      kind: String(r.window_kind),
      fromMs: Number(r.ws),
      toMs: Number(r.we),
      size: Number(r.size),
    },
    psi: nullableNumber(r.psi),
    ks:
      r.ks === null || r.ks === undefined
        ? null
        : { statistic: Number(r.ks), pValue: Number(r.ks_p) },
    jensenShannon: nullableNumber(r.js),
    drifted: r.drifted === true,
    bins: driftBins(r.bins),
  };
}

/** The PSI row's stored bins (see the core's driftResultRows) as the histogram a client redraws. */
/** The entry's bins, stored in the API's shape by drift_entry_bins (see its migration). */
function driftBins(stored: unknown): DriftBins | null {
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return null;
  const s = stored as Partial<DriftBins>;
  return Array.isArray(s.reference) && Array.isArray(s.current) ? (s as DriftBins) : null;
}
