/** Performance reads: a model's performance windows, and whether the tenant has the model at all. */
import type { PerformanceEntry, PerformanceQuery } from "./read-store";
import { MS, nullableNumber, type QueryRows, TS, TS_US, US } from "./sql-rows";

const PERFORMANCE_SQL = (limit: number) => `
  SELECT ${US("window_start")} AS at_us, id::text AS id, version,
    ${MS("window_start")} AS ws, ${MS("window_end")} AS we,
    sample_size::text AS n, positive_count::text AS positives, auc, log_loss, brier, calibration,
    (details->>'attributionWindowMs')::float8 AS attribution_ms, provisional
  FROM performance_results
  WHERE tenant_id = $1 AND model_name = $2
    AND window_start >= ${TS("$3")} AND window_start < ${TS("$4")}
    AND ($5::text IS NULL OR version = $5)
    AND ($6::bigint IS NULL OR (window_start, id) > (${TS_US("$6")}, $7::bigint))
  ORDER BY window_start, id
  LIMIT ${limit}`;

const HAS_MODEL_SQL = `
  SELECT EXISTS (SELECT 1 FROM model_versions WHERE tenant_id = $1 AND model_name = $2)
      OR EXISTS (SELECT 1 FROM model_pointers WHERE tenant_id = $1 AND model_name = $2)
      OR EXISTS (SELECT 1 FROM drift_results WHERE tenant_id = $1 AND model_name = $2)
      OR EXISTS (SELECT 1 FROM performance_results WHERE tenant_id = $1 AND model_name = $2)
    AS known`;

export async function listPerformance(
  query: QueryRows,
  q: PerformanceQuery,
): Promise<PerformanceEntry[]> {
  const rows = await query(PERFORMANCE_SQL(q.limit + 1), [
    q.tenant,
    q.model,
    String(q.fromMs),
    String(q.toMs),
    q.version ?? null,
    q.after?.atUs ?? null,
    q.after?.id ?? null,
  ]);
  return rows.map((r) => ({
    key: { atUs: String(r.at_us), id: String(r.id) },
    version: String(r.version),
    windowStartMs: Number(r.ws),
    windowEndMs: Number(r.we),
    attributionWindowMs: nullableNumber(r.attribution_ms) ?? undefined,
    provisional: r.provisional === true,
    n: Number(r.n),
    positives: Number(r.positives),
    auc: nullableNumber(r.auc),
    logLoss: Number(r.log_loss),
    brier: Number(r.brier),
    calibration: calibrationBins(r.calibration),
  }));
}

export async function hasModel(query: QueryRows, tenant: string, model: string): Promise<boolean> {
  const rows = await query(HAS_MODEL_SQL, [tenant, model]);
  return rows[0]?.known === true;
}

function calibrationBins(stored: unknown): PerformanceEntry["calibration"] {
  if (!Array.isArray(stored)) return [];
  return stored.map((b: Record<string, unknown>) => ({
    predicted: Number(b.meanPredicted),
    observed: Number(b.observedRate),
    n: Number(b.count),
  }));
}
