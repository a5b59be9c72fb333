/** MonitoringOutbox on Postgres: the publisher's side of monitoring_outbox. */
import { ms, TS } from "../db/epoch-ms-sql";
import type { Queryable } from "../db/timed-query";
import type { MonitoringOutbox, OutboxItem } from "./alert-outbox";

/** The outbox on a pool (short transactions of its own, never a batch's). */
export class NeonMonitoringOutbox implements MonitoringOutbox {
  constructor(private readonly db: Queryable) {}

  async claimDue(
    channels: readonly OutboxItem["channel"][],
    limit: number,
    leaseMs: number,
  ): Promise<OutboxItem[]> {
    // One statement: claim (push next_attempt_at past the lease) and return, skipping rows
    // another publisher holds, so several processes can drain one outbox.
    const { rows } = await this.db.query<{
      id: string;
      tenant_id: string;
      channel: OutboxItem["channel"];
      ref_id: string;
      target: string;
      message_key: string;
      payload: unknown;
      attempts: number;
    }>({
      text: `UPDATE monitoring_outbox o SET next_attempt_at = now() + $3::bigint * interval '1 millisecond'
             FROM (SELECT id FROM monitoring_outbox
                   WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
                     AND channel = ANY($1::text[])
                   ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) AS due
             WHERE o.id = due.id
             RETURNING o.id::text AS id, o.tenant_id, o.channel, o.ref_id, o.target, o.message_key,
               o.payload, o.attempts`,
      values: [channels, limit, ms(leaseMs)],
    });
    return rows
      .map((r) => ({
        id: r.id,
        tenant: r.tenant_id,
        channel: r.channel,
        refId: r.ref_id,
        target: r.target,
        messageKey: r.message_key,
        payload: r.payload,
        attempts: r.attempts,
      }))
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  async markDelivered(items: readonly OutboxItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.query({
      text: `WITH done AS (
               UPDATE monitoring_outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
               WHERE id = ANY($1::bigint[])
               RETURNING tenant_id, channel, ref_id
             ), a AS (
               UPDATE alerts al SET published_at = now(), updated_at = now()
               FROM done WHERE done.channel = 'alerts' AND al.tenant_id = done.tenant_id
                 AND al.alert_id = done.ref_id AND al.published_at IS NULL
               RETURNING 1
             )
             UPDATE retrain_requests rr SET published_at = now(), updated_at = now()
             FROM done WHERE done.channel = 'retrain-requests' AND rr.tenant_id = done.tenant_id
               AND rr.request_id = done.ref_id AND rr.published_at IS NULL`,
      values: [items.map((i) => i.id)],
    });
  }

  async markFailed(
    item: OutboxItem,
    error: string,
    nextAttemptAtMs: number | undefined,
  ): Promise<void> {
    await this.db.query({
      text: `UPDATE monitoring_outbox SET attempts = attempts + 1, last_error = $2,
               next_attempt_at = CASE WHEN $3::bigint IS NULL THEN next_attempt_at ELSE ${TS("$3")} END,
               failed_at = CASE WHEN $3::bigint IS NULL THEN now() ELSE NULL END
             WHERE id = $1::bigint`,
      values: [
        item.id,
        error.slice(0, 2000),
        nextAttemptAtMs === undefined ? null : ms(nextAttemptAtMs),
      ],
    });
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>({
      text: `SELECT count(*)::text AS n FROM monitoring_outbox WHERE delivered_at IS NULL AND failed_at IS NULL`,
    });
    return Number(rows[0]?.n ?? 0);
  }

  async purge(
    beforeMs: number,
  ): Promise<{ predictions: number; labelKeys: number; outbox: number }> {
    const before = ms(beforeMs);
    // Version by version and tenant by tenant, so every delete uses an index that starts with
    // the tenant (every prediction's version has a monitoring_state row).
    const { rows: keys } = await this.db.query<{
      tenant_id: string;
      model_name: string;
      version: string;
    }>({
      text: "SELECT tenant_id, model_name, version FROM monitoring_state",
    });
    let predictions = 0;
    let labelKeys = 0;
    for (const k of keys) {
      const r = await this.db.query({
        text: `DELETE FROM predictions WHERE tenant_id = $1 AND model_name = $2 AND version = $3
               AND predicted_at < ${TS("$4")}`,
        values: [k.tenant_id, k.model_name, k.version, before],
      });
      predictions += r.rowCount ?? 0;
    }
    for (const tenant of new Set(keys.map((k) => k.tenant_id))) {
      for (const table of ["conversion_keys", "click_id_predictions"]) {
        const r = await this.db.query({
          text: `DELETE FROM ${table} WHERE tenant_id = $1 AND created_at < ${TS("$2")}`,
          values: [tenant, before],
        });
        labelKeys += r.rowCount ?? 0;
      }
    }
    const o = await this.db.query({
      text: `DELETE FROM monitoring_outbox WHERE delivered_at < ${TS("$1")}`,
      values: [before],
    });
    return { predictions, labelKeys, outbox: o.rowCount ?? 0 };
  }
}
