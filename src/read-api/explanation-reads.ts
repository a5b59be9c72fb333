/** Explanation reads: a model's predictions logged with their top reasons, and the reasons per feature. */
import {
  EXPLANATION_SUMMARY_FEATURES,
  type ExplainedPrediction,
  type ExplanationQuery,
  type ExplanationSummary,
} from "./read-store";
import { MS, type QueryRows, type Row, TS, TS_US, US } from "./sql-rows";

/** The explained rows of the range: the partial index predictions_explained, read in order. */
const EXPLAINED_FILTER = `tenant_id = $1 AND model_name = $2 AND reasons IS NOT NULL
    AND jsonb_typeof(reasons) = 'array'
    AND predicted_at >= ${TS("$3")} AND predicted_at < ${TS("$4")}
    AND ($5::text IS NULL OR version = $5)`;

const EXPLAINED_PAGE_SQL = (limit: number) => `
  SELECT ${US("predicted_at")} AS at_us, prediction_id, version, score,
    ${MS("predicted_at")} AS at_ms, reasons
  FROM predictions
  WHERE ${EXPLAINED_FILTER}
    AND ($6::bigint IS NULL OR (predicted_at, prediction_id) < (${TS_US("$6")}, $7::text))
  ORDER BY predicted_at DESC, prediction_id DESC
  LIMIT ${limit}`;

const EXPLAINED_COUNT_SQL = `
  SELECT count(*)::text AS n FROM predictions WHERE ${EXPLAINED_FILTER}`;

const FEATURE_SUMMARY_SQL = `
  SELECT r.feature, avg(abs(r.c)) AS mean_abs, avg(r.c) AS mean, count(*)::text AS n
  FROM predictions p,
    LATERAL (SELECT x->>'feature' AS feature, (x->>'contribution')::float8 AS c
             FROM jsonb_array_elements(p.reasons) x) r
  WHERE ${EXPLAINED_FILTER.replaceAll(/\b(tenant_id|model_name|reasons|predicted_at|version)\b/g, "p.$1")}
  GROUP BY r.feature
  ORDER BY mean_abs DESC, r.feature
  LIMIT ${EXPLANATION_SUMMARY_FEATURES}`;

export async function listExplanations(
  query: QueryRows,
  q: ExplanationQuery,
): Promise<ExplainedPrediction[]> {
  const rows = await query(EXPLAINED_PAGE_SQL(q.limit + 1), [
    ...rangeValues(q),
    q.after?.atUs ?? null,
    q.after?.id ?? null,
  ]);
  return rows.map((r) => ({
    key: { atUs: String(r.at_us), id: String(r.prediction_id) },
    predictionId: String(r.prediction_id),
    version: String(r.version),
    score: Number(r.score),
    predictedAtMs: Number(r.at_ms),
    reasons: storedReasons(r.reasons),
  }));
}

export async function explanationSummary(
  query: QueryRows,
  q: Omit<ExplanationQuery, "after" | "limit">,
): Promise<ExplanationSummary> {
  const values = rangeValues(q);
  const [count, features] = await Promise.all([
    query(EXPLAINED_COUNT_SQL, values),
    query(FEATURE_SUMMARY_SQL, values),
  ]);
  return {
    explained: Number(count[0]?.n ?? 0),
    features: features.map((r: Row) => ({
      feature: String(r.feature),
      meanAbs: Number(r.mean_abs),
      mean: Number(r.mean),
      count: Number(r.n),
    })),
  };
}

function rangeValues(q: Omit<ExplanationQuery, "after" | "limit">): unknown[] {
  return [q.tenant, q.model, String(q.fromMs), String(q.toMs), q.version ?? null];
}

/** The logged reasons as stored (the processor writes the record's array as it came). */
function storedReasons(stored: unknown): ExplainedPrediction["reasons"] {
  if (!Array.isArray(stored)) return [];
  return stored.map((r: Record<string, unknown>) => ({
    feature: String(r.feature),
    contribution: Number(r.contribution),
  }));
}
