/** Explanation reads: a model's predictions logged with their top reasons, and the reasons per feature. */
import {
  EXPLANATION_COUNT_CAP,
  EXPLANATION_SUMMARY_FEATURES,
  EXPLANATION_SUMMARY_SAMPLE,
  type ExplainedPrediction,
  type ExplanationQuery,
  type ExplanationSummary,
} from "./read-store";
import { MS, type QueryRows, type Row, TS, TS_US, US } from "./sql-rows";

/**
 * The explained rows of the range: a range of the partial index predictions_explained (the count
 * reads the index alone). Reasons are always an array as the processor writes them; anything else
 * is read as none rather than failing the statement.
 */
const EXPLAINED_FILTER = `tenant_id = $1 AND model_name = $2 AND reasons IS NOT NULL
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

/** Counted up to EXPLANATION_COUNT_CAP along the index: an exact count of a busy month is a scan. */
const EXPLAINED_COUNT_SQL = `
  SELECT count(*)::text AS n FROM (
    SELECT 1 FROM predictions WHERE ${EXPLAINED_FILTER}
    ORDER BY predicted_at DESC, prediction_id DESC LIMIT ${EXPLANATION_COUNT_CAP}
  ) AS capped`;

/**
 * Per feature over the newest EXPLANATION_SUMMARY_SAMPLE explained predictions of the range:
 * unpacking every logged reason of a busy day at read time costs hundreds of ms (50,000
 * predictions × 3 reasons measured ~500 ms), the newest 2,000 ~30 ms.
 */
const FEATURE_SUMMARY_SQL = `
  SELECT r.feature, avg(abs(r.c)) AS mean_abs, avg(r.c) AS mean, count(*)::text AS n
  FROM (
    SELECT reasons FROM predictions WHERE ${EXPLAINED_FILTER}
    ORDER BY predicted_at DESC, prediction_id DESC LIMIT ${EXPLANATION_SUMMARY_SAMPLE}
  ) AS newest,
    LATERAL (
      SELECT x->>'feature' AS feature, (x->>'contribution')::float8 AS c
      FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(newest.reasons) = 'array' THEN newest.reasons ELSE '[]' END) x
    ) r
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
  const explained = Number(count[0]?.n ?? 0);
  return {
    explained,
    summarized: Math.min(explained, EXPLANATION_SUMMARY_SAMPLE),
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
