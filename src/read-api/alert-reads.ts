/** Alert reads and the one alert write the read API makes: acknowledging an open alert. */
import type { AcknowledgeResult, AlertEntry, AlertQuery, AlertStatus } from "./read-store";
import { MS, type QueryRows, TS, TS_US, US } from "./sql-rows";

const ALERTS_SQL = (limit: number) => `
  SELECT ${US("created_at")} AS at_us, alert_id, type, state, model_name, version,
    ${MS("created_at")} AS created_ms, ${MS("acknowledged_at")} AS ack_ms, cloud_event
  FROM alerts
  WHERE tenant_id = $1 AND created_at >= ${TS("$2")} AND created_at < ${TS("$3")}
    AND ($4::text IS NULL OR state = $4) AND ($5::text IS NULL OR type = $5)
    AND ($6::text IS NULL OR model_name = $6)
    AND ($7::bigint IS NULL OR (created_at, alert_id) > (${TS_US("$7")}, $8::text))
  ORDER BY created_at, alert_id
  LIMIT ${limit}`;

// Only an open alert becomes acknowledged; acknowledging again answers the first time.
const ACKNOWLEDGE_SQL = `
  WITH updated AS (
    UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(), updated_at = now()
    WHERE tenant_id = $1 AND alert_id = $2 AND state = 'open'
    RETURNING alert_id, state, acknowledged_at, updated_at
  )
  SELECT alert_id, state, ${MS("coalesce(acknowledged_at, updated_at)")} AS ack_ms FROM updated
  UNION ALL
  SELECT alert_id, state, ${MS("coalesce(acknowledged_at, updated_at)")} AS ack_ms FROM alerts
  WHERE tenant_id = $1 AND alert_id = $2 AND NOT EXISTS (SELECT 1 FROM updated)
  LIMIT 1`;

export async function listAlerts(query: QueryRows, q: AlertQuery): Promise<AlertEntry[]> {
  const rows = await query(ALERTS_SQL(q.limit + 1), [
    q.tenant,
    String(q.fromMs),
    String(q.toMs),
    q.status ?? null,
    q.type ?? null,
    q.model ?? null,
    q.after?.atUs ?? null,
    q.after?.id ?? null,
  ]);
  return rows.map((r) => ({
    key: { atUs: String(r.at_us), id: String(r.alert_id) },
    id: String(r.alert_id),
    type: String(r.type),
    status: r.state as AlertStatus,
    model: (r.model_name as string | null) ?? null,
    version: (r.version as string | null) ?? null,
    createdAtMs: Number(r.created_ms),
    acknowledgedAtMs: r.ack_ms === null || r.ack_ms === undefined ? null : Number(r.ack_ms),
    event: r.cloud_event as Record<string, unknown>,
  }));
}

export async function acknowledgeAlert(
  query: QueryRows,
  tenant: string,
  id: string,
): Promise<AcknowledgeResult> {
  const [row] = await query(ACKNOWLEDGE_SQL, [tenant, id]);
  if (row === undefined) return { kind: "not-found" };
  if (row.state === "resolved") return { kind: "resolved" };
  return { kind: "acknowledged", id: String(row.alert_id), acknowledgedAtMs: Number(row.ack_ms) };
}
