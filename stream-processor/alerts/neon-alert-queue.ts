/** Alerts and retraining requests stored in a batch transaction, with their deliveries queued in the outbox the publisher drains. */
import type { RetrainRequest } from "#core/monitoring";
import { ms, TS } from "../db/epoch-ms-sql";
import type { Queryable, ScopedQuery } from "../db/timed-query";
import type { OutboxItem } from "./alert-outbox";
import { planAlertTargets } from "./tenant-webhooks";

/**
 * An alert to store and deliver: a monitoring Alert, or any other (an anomaly) with no model and
 * its own Kafka message key.
 */
export interface QueuedAlert {
  alertId: string;
  tenant: string;
  type: string;
  model: string | null;
  version: string | null;
  cloudEvent: unknown;
  /** Kafka message key; default `tenant:model:version`. */
  messageKey?: string;
}

/** A delivery to queue: the outbox row without what the outbox assigns. */
type Delivery = Omit<OutboxItem, "id" | "attempts">;

/**
 * Each alert or request is stored once (a redelivered batch finds it stored and queues nothing
 * again); only the newly stored ones are queued, in the same transaction, so a delivery exists
 * exactly when its alert or request committed.
 */
export class NeonAlertQueue {
  /** `run` and `db` are the same transaction's connection (`db` for the webhook plan). */
  constructor(
    private readonly run: ScopedQuery,
    private readonly db: Queryable,
  ) {}

  /**
   * Stores alerts not stored before and queues each for Kafka, for its tenant's subscribed
   * webhook endpoints and for every operator sink; returns how many were new.
   */
  insertAlerts(alerts: readonly QueuedAlert[], operatorSinks: readonly string[]): Promise<number> {
    return this.insertQueued(
      "insert_alerts",
      `INSERT INTO alerts (tenant_id, alert_id, type, model_name, version, cloud_event)
       SELECT t, a, ty, m, v, ce::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         AS d(t, a, ty, m, v, ce)
       ON CONFLICT (tenant_id, alert_id) DO NOTHING
       RETURNING tenant_id, alert_id AS ref_id`,
      [
        alerts.map((a) => a.tenant),
        alerts.map((a) => a.alertId),
        alerts.map((a) => a.type),
        alerts.map((a) => a.model),
        alerts.map((a) => a.version),
        alerts.map((a) => JSON.stringify(a.cloudEvent)),
      ],
      alerts,
      (a) => a.alertId,
      async (fresh) => {
        // Planned in the batch transaction, so an alert's deliveries commit with it.
        const webhooks = await planAlertTargets(this.db, fresh, operatorSinks);
        return [
          ...fresh.map((a) => ({ ...alertDelivery(a), channel: "alerts" as const, target: "" })),
          ...webhooks.map(({ alert, target }) => ({
            ...alertDelivery(alert),
            channel: "webhook" as const,
            target,
          })),
        ];
      },
    );
  }

  /** Stores requests not stored before and queues their publication; returns how many were new. */
  insertRetrainRequests(requests: readonly RetrainRequest[], nowMs: number): Promise<number> {
    return this.insertQueued(
      "insert_retrain_requests",
      `INSERT INTO retrain_requests (tenant_id, request_id, model_name, version, policy, evidence,
         requested_at)
       SELECT t, r, m, v, p, e::jsonb, ${TS("$7")}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         AS d(t, r, m, v, p, e)
       ON CONFLICT (tenant_id, request_id) DO NOTHING
       RETURNING tenant_id, request_id AS ref_id`,
      [
        requests.map((r) => r.tenant),
        requests.map((r) => r.requestId),
        requests.map((r) => r.model),
        requests.map((r) => r.version),
        requests.map((r) => r.policy),
        requests.map((r) => JSON.stringify({ reasons: r.reasons, ...r.evidence })),
        ms(nowMs),
      ],
      requests,
      (r) => r.requestId,
      async (fresh) =>
        fresh.map((r) => ({
          tenant: r.tenant,
          channel: "retrain-requests" as const,
          refId: r.requestId,
          target: "",
          messageKey: `${r.tenant}:${r.model}`,
          payload: r,
        })),
    );
  }

  /**
   * Runs `insert` (which answers the tenant_id and ref_id of the rows it stored), then queues
   * the deliveries of the items stored now; returns how many items were stored now.
   */
  private async insertQueued<T extends { tenant: string }>(
    operation: string,
    insert: string,
    values: unknown[],
    items: readonly T[],
    refOf: (item: T) => string,
    deliveriesOf: (stored: readonly T[]) => Promise<Delivery[]>,
  ): Promise<number> {
    if (items.length === 0) return 0;
    const { rows } = await this.run<{ tenant_id: string; ref_id: string }>(
      operation,
      insert,
      values,
    );
    const fresh = new Set(rows.map((r) => `${r.tenant_id}\u0000${r.ref_id}`));
    const queued = items.filter((i) => fresh.has(`${i.tenant}\u0000${refOf(i)}`));
    if (queued.length > 0) await this.enqueue(await deliveriesOf(queued));
    return queued.length;
  }

  private async enqueue(items: readonly Delivery[]): Promise<void> {
    if (items.length === 0) return;
    await this.run(
      "enqueue",
      `INSERT INTO monitoring_outbox (tenant_id, channel, ref_id, target, message_key, payload)
       SELECT t, c, r, g, k, p::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         AS d(t, c, r, g, k, p)
       ON CONFLICT (channel, ref_id, target) DO NOTHING`,
      [
        items.map((i) => i.tenant),
        items.map((i) => i.channel),
        items.map((i) => i.refId),
        items.map((i) => i.target),
        items.map((i) => i.messageKey),
        items.map((i) => JSON.stringify(i.payload)),
      ],
    );
  }
}

/** What every delivery of an alert shares: keyed by model version, the CloudEvent as payload. */
function alertDelivery(a: QueuedAlert): Omit<Delivery, "channel" | "target"> {
  return {
    tenant: a.tenant,
    refId: a.alertId,
    messageKey: a.messageKey ?? `${a.tenant}:${a.model}:${a.version}`,
    payload: a.cloudEvent,
  };
}
