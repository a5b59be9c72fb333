/** Retraining reads: requests, a request's status trail, and its training set page by page. */
import type {
  RetrainEntry,
  RetrainHistoryEntry,
  RetrainQuery,
  RetrainStatus,
  TrainingSetPageQuery,
  TrainingSetRow,
  TrainingSetWindow,
} from "./read-store";
import { MS, type QueryRows, type Row, TS, TS_US, US } from "./sql-rows";

const RETRAIN_COLUMNS = `${US("requested_at")} AS at_us, request_id, model_name, version, status,
    policy, evidence, ${MS("requested_at")} AS requested_ms, status_reason, status_evidence`;

const RETRAIN_LIST_SQL = (limit: number) => `
  SELECT ${RETRAIN_COLUMNS}
  FROM retrain_requests
  WHERE tenant_id = $1 AND ($2::text IS NULL OR model_name = $2) AND ($3::text IS NULL OR status = $3)
    AND ($4::bigint IS NULL OR (requested_at, request_id) > (${TS_US("$4")}, $5::text))
  ORDER BY requested_at, request_id
  LIMIT ${limit}`;

const RETRAIN_ONE_SQL = `
  SELECT ${RETRAIN_COLUMNS} FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2 LIMIT 1`;

/**
 * A request's training window: the one its retraining job froze (state.cutoffMs, state.sinceMs),
 * else everything settled up to now; with the registered manifest's feature order.
 */
const TRAINING_WINDOW_SQL = `
  SELECT r.model_name, r.version, j.state->>'cutoffMs' AS cutoff_ms, j.state->>'sinceMs' AS since_ms,
    (SELECT jsonb_path_query_array(v.manifest, '$.features[*].name') FROM model_versions v
     WHERE v.tenant_id = r.tenant_id AND v.model_name = r.model_name AND v.version = r.version)
      AS features
  FROM retrain_requests r
  LEFT JOIN retraining_jobs j ON j.tenant_id = r.tenant_id AND j.request_id = r.request_id
  WHERE r.tenant_id = $1 AND r.request_id = $2 LIMIT 1`;

/** Settled rows of a model in a window, oldest first, after a (time, id) key. */
const TRAINING_PAGE_SQL = (limit: number) => `
  SELECT prediction_id, ${MS("predicted_at")} AS at_ms, features, label FROM predictions
  WHERE tenant_id = $1 AND model_name = $2 AND label IS NOT NULL
    AND predicted_at <= ${TS("$3")} AND labelled_at <= ${TS("$3")}
    AND ($4::bigint IS NULL OR predicted_at >= ${TS("$4")})
    AND ($5::bigint IS NULL OR (predicted_at, prediction_id) > (${TS("$5")}, $6::text))
  ORDER BY predicted_at, prediction_id
  LIMIT ${limit}`;

/** A request's status trail is short (a handful of changes); the bound only guards the answer. */
const RETRAIN_HISTORY_SQL = `
  SELECT status, ${MS("at")} AS at_ms, reason FROM retrain_request_history
  WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq LIMIT 1000`;

export async function listRetrainRequests(
  query: QueryRows,
  q: RetrainQuery,
): Promise<RetrainEntry[]> {
  const rows = await query(RETRAIN_LIST_SQL(q.limit + 1), [
    q.tenant,
    q.model ?? null,
    q.status ?? null,
    q.after?.atUs ?? null,
    q.after?.id ?? null,
  ]);
  return rows.map(retrainEntry);
}

export async function getRetrainRequest(
  query: QueryRows,
  tenant: string,
  id: string,
): Promise<(RetrainEntry & { history: RetrainHistoryEntry[] }) | undefined> {
  const [request, history] = await Promise.all([
    query(RETRAIN_ONE_SQL, [tenant, id]),
    query(RETRAIN_HISTORY_SQL, [tenant, id]),
  ]);
  const row = request[0];
  if (row === undefined) return undefined;
  return {
    ...retrainEntry(row),
    history: history.map((h) => ({
      status: String(h.status),
      atMs: Number(h.at_ms),
      reason: (h.reason as string | null) ?? null,
    })),
  };
}

export async function trainingSetWindow(
  query: QueryRows,
  tenant: string,
  id: string,
  nowMs: number,
): Promise<TrainingSetWindow | undefined> {
  const row = (await query(TRAINING_WINDOW_SQL, [tenant, id]))[0];
  if (row === undefined) return undefined;
  const features = Array.isArray(row.features) ? row.features.map(String) : null;
  return {
    model: String(row.model_name),
    version: String(row.version),
    features,
    cutoffMs: row.cutoff_ms === null || row.cutoff_ms === undefined ? nowMs : Number(row.cutoff_ms),
    sinceMs: row.since_ms === null || row.since_ms === undefined ? null : Number(row.since_ms),
  };
}

export async function trainingSetPage(
  query: QueryRows,
  q: TrainingSetPageQuery,
): Promise<TrainingSetRow[]> {
  const rows = await query(TRAINING_PAGE_SQL(q.limit), [
    q.tenant,
    q.window.model,
    String(q.window.cutoffMs),
    q.window.sinceMs === null ? null : String(q.window.sinceMs),
    q.after === undefined ? null : String(q.after.atMs),
    q.after?.id ?? null,
  ]);
  return rows.map((r) => ({
    id: String(r.prediction_id),
    predictedAtMs: Number(r.at_ms),
    features: r.features as Record<string, unknown>,
    label: r.label === true,
  }));
}

function retrainEntry(r: Row): RetrainEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.request_id) },
    id: String(r.request_id),
    model: String(r.model_name),
    version: String(r.version),
    status: r.status as RetrainStatus,
    policy: String(r.policy),
    evidence: r.evidence as Record<string, unknown>,
    requestedAtMs: Number(r.requested_ms),
    reason: typeof r.status_reason === "string" ? r.status_reason : null,
    statusEvidence: (r.status_evidence as Record<string, unknown> | null) ?? null,
  };
}
