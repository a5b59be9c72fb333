/**
 * Tenant webhook endpoints as the stream processor needs them: which endpoints an alert goes to
 * (read in the batch transaction that stores the alert), an endpoint's URL and opened secret when
 * the publisher delivers, and the record of each delivery attempt. A tenant's alerts reach only
 * that tenant's endpoints: every statement filters by tenant.
 */
import {
  deliveryAttemptValues,
  openWebhookSecret,
  type PlannedAlert,
  planAlertDeliveries,
  type WebhookDeliveryAttempt,
  type WebhookSubscription,
} from "#core/webhooks";
import type { Queryable } from "../db/timed-query";

/** An endpoint ready to sign and send to. */
export interface DeliverableEndpoint {
  endpointId: string;
  tenant: string;
  url: string;
  types: string[];
  /** The opened `whsec_…` secret; never log it. */
  secret: string;
}

/** An endpoint whose stored secret did not open (another key, or an altered row): skipped. */
export interface UnopenedEndpoint {
  endpointId: string;
  tenant: string;
  reason: string;
}

const LIVE_ENDPOINTS = `
  SELECT endpoint_id::text AS endpoint_id, tenant_id, url, types, secret_sealed
  FROM webhook_endpoints
  WHERE tenant_id = $1 AND disabled_at IS NULL AND (cardinality(types) = 0 OR $2 = ANY(types))
  ORDER BY created_at, endpoint_id`;

/** Endpoint ids are uuids; anything else names no endpoint (and must not reach a uuid cast). */
const ENDPOINT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface EndpointRow {
  endpoint_id: string;
  tenant_id: string;
  url: string;
  types: string[] | null;
  secret_sealed: string;
}

async function opened(
  key: CryptoKey,
  rows: readonly EndpointRow[],
): Promise<{ endpoints: DeliverableEndpoint[]; unopened: UnopenedEndpoint[] }> {
  const endpoints: DeliverableEndpoint[] = [];
  const unopened: UnopenedEndpoint[] = [];
  for (const r of rows) {
    const owner = { tenant: r.tenant_id, endpointId: r.endpoint_id };
    const secret = await openWebhookSecret(key, r.secret_sealed, owner);
    if (secret.ok) {
      endpoints.push({ ...owner, url: r.url, types: r.types ?? [], secret: secret.secret });
    } else {
      unopened.push({ ...owner, reason: secret.reason });
    }
  }
  return { endpoints, unopened };
}

/**
 * The tenant's live endpoints subscribed to `alertType` (no types: every type), secrets opened
 * with `key` (importWebhookEncryptionKey(WEBHOOK_ENCRYPTION_KEY)). Endpoints whose secret does
 * not open are answered apart, so the caller can log them and deliver to the rest.
 */
export async function endpointsForAlert(
  db: Queryable,
  key: CryptoKey,
  tenant: string,
  alertType: string,
): Promise<{ endpoints: DeliverableEndpoint[]; unopened: UnopenedEndpoint[] }> {
  const { rows } = await db.query<EndpointRow>({
    name: "driftline_webhooks_endpoints_for_alert",
    text: LIVE_ENDPOINTS,
    values: [tenant, alertType],
  });
  return opened(key, rows);
}

/**
 * One live endpoint of the tenant, opened, for the publisher: undefined when the endpoint was
 * deleted (its queued deliveries are then dropped) or is not the tenant's.
 */
export async function endpointForDelivery(
  db: Queryable,
  key: CryptoKey,
  tenant: string,
  endpointId: string,
): Promise<DeliverableEndpoint | UnopenedEndpoint | undefined> {
  if (!ENDPOINT_ID.test(endpointId)) return undefined;
  const { rows } = await db.query<EndpointRow>({
    name: "driftline_webhooks_endpoint_for_delivery",
    text: `SELECT endpoint_id::text AS endpoint_id, tenant_id, url, types, secret_sealed
           FROM webhook_endpoints
           WHERE tenant_id = $1 AND endpoint_id = $2::uuid AND disabled_at IS NULL`,
    values: [tenant, endpointId],
  });
  const { endpoints, unopened } = await opened(key, rows);
  return endpoints[0] ?? unopened[0];
}

/**
 * The outbox targets of each new alert: its tenant's subscribed live endpoints (`endpoint:<id>`,
 * no URL and no secret in the outbox) and every operator sink URL. One statement for all the
 * batch's tenants; secrets are not read here.
 */
export async function planAlertTargets<A extends PlannedAlert>(
  db: Queryable,
  alerts: readonly A[],
  operatorSinks: readonly string[],
): Promise<{ alert: A; target: string }[]> {
  if (alerts.length === 0) return [];
  const tenants = [...new Set(alerts.map((a) => a.tenant))];
  const { rows } = await db.query<{ endpoint_id: string; tenant_id: string; types: string[] }>({
    name: "driftline_webhooks_subscriptions",
    text: `SELECT endpoint_id::text AS endpoint_id, tenant_id, types FROM webhook_endpoints
           WHERE tenant_id = ANY($1::text[]) AND disabled_at IS NULL
           ORDER BY tenant_id, created_at, endpoint_id`,
    values: [tenants],
  });
  const subscriptions: WebhookSubscription[] = rows.map((r) => ({
    endpointId: r.endpoint_id,
    tenant: r.tenant_id,
    types: r.types ?? [],
  }));
  return planAlertDeliveries(alerts, subscriptions, operatorSinks);
}

/** One attempt to deliver one alert to one endpoint, as GET /v1/webhooks/{id}/deliveries shows it. */
export type WebhookDeliveryRecord = WebhookDeliveryAttempt;

/**
 * Stores the attempt for the tenant's delivery log. Answers false, storing nothing, when the
 * endpoint is not the tenant's (deleted rows stay, so a late record of one still lands).
 */
export async function recordWebhookDelivery(
  db: Queryable,
  d: WebhookDeliveryRecord,
): Promise<boolean> {
  if (!ENDPOINT_ID.test(d.endpointId)) return false;
  const { rowCount } = await db.query({
    name: "driftline_webhooks_record_delivery",
    text: `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, attempt,
             status_code, error, succeeded, duration_ms, attempted_at, next_attempt_at)
           SELECT $1, e.endpoint_id, $3, $4, $5, $6, $7::text, $7::text IS NULL, $8,
             'epoch'::timestamptz + $9::bigint * interval '1 millisecond',
             'epoch'::timestamptz + $10::bigint * interval '1 millisecond'
           FROM webhook_endpoints e
           WHERE e.tenant_id = $1 AND e.endpoint_id = $2::uuid`,
    values: deliveryAttemptValues(d),
  });
  return (rowCount ?? 0) > 0;
}

/** What the publisher needs of tenant endpoints (Postgres below; a fake in unit tests). */
export interface TenantEndpoints {
  /** The live endpoint, opened; an unopened one with why; undefined when deleted or foreign. */
  find(
    tenant: string,
    endpointId: string,
  ): Promise<DeliverableEndpoint | UnopenedEndpoint | undefined>;
  /** Stores one attempt in the tenant's delivery log. */
  record(attempt: WebhookDeliveryRecord): Promise<void>;
}

/** TenantEndpoints on a pool (outside batch transactions), opening secrets with `key`. */
export function neonTenantEndpoints(db: Queryable, key: CryptoKey): TenantEndpoints {
  return {
    find: (tenant, endpointId) => endpointForDelivery(db, key, tenant, endpointId),
    record: async (attempt) => {
      await recordWebhookDelivery(db, attempt);
    },
  };
}
