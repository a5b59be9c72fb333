/** WebhookStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import { deliveryAttemptValues } from "#core/webhooks";
import { MS, NeonTenantTable, type Row, TS, UUID } from "../db/neon-tenant-table";
import type { NeonReadStoreOptions } from "../read-api/neon-read-store";
import type {
  CreateEndpointResult,
  DeliveryAttempt,
  DeliveryEntry,
  DeliveryQuery,
  WebhookEndpoint,
  WebhookStore,
} from "./webhook-store";

const US = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::bigint::text`;
const TS_US = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;

const ENDPOINT_COLUMNS = `endpoint_id::text AS id, tenant_id, url, types, secret_sealed,
  ${MS("created_at")} AS created_ms`;

const DELIVERY_COLUMNS = `${US("attempted_at")} AS at_us, delivery_id::text AS id, tenant_id,
  endpoint_id::text AS endpoint_id, event_id, event_type, attempt, status_code, error,
  duration_ms, ${MS("attempted_at")} AS attempted_ms, ${MS("next_attempt_at")} AS next_ms`;

export class NeonWebhookStore implements WebhookStore {
  private readonly table: NeonTenantTable;

  constructor(options: NeonReadStoreOptions) {
    this.table = new NeonTenantTable(options, {
      table: "webhook_endpoints",
      idColumn: "endpoint_id",
      name: "webhook",
    });
  }

  async createEndpoint(
    e: WebhookEndpoint,
    maxPerTenant: number,
    beforeInsert?: () => Promise<void>,
  ): Promise<CreateEndpointResult> {
    const result = await this.table.insertCapped(
      e.tenant,
      maxPerTenant,
      {
        text: `INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, types, secret_sealed, created_at)
         VALUES ($1, $2::uuid, $3, $4::text[], $5, ${TS("$6")})
         RETURNING ${ENDPOINT_COLUMNS}`,
        values: [e.tenant, e.id, e.url, e.types, e.secretSealed, String(e.createdAtMs)],
        rowOf: endpointOf,
      },
      beforeInsert,
    );
    return result.kind === "created" ? { kind: "created", endpoint: result.row } : result;
  }

  async listEndpoints(tenant: string): Promise<WebhookEndpoint[]> {
    const rows = await this.table.rows(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
       WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY created_at, endpoint_id LIMIT 1000`,
      [tenant],
    );
    return rows.map(endpointOf);
  }

  async getEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | undefined> {
    if (!UUID.test(id)) return undefined;
    const rows = await this.table.rows(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
       WHERE tenant_id = $1 AND endpoint_id = $2::uuid AND disabled_at IS NULL`,
      [tenant, id],
    );
    return rows[0] === undefined ? undefined : endpointOf(rows[0]);
  }

  disableEndpoint(tenant: string, id: string): Promise<boolean> {
    return this.table.disable(tenant, id);
  }

  async listDeliveries(q: DeliveryQuery): Promise<DeliveryEntry[]> {
    if (!UUID.test(q.endpointId)) return [];
    const rows = await this.table.rows(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
       WHERE tenant_id = $1 AND endpoint_id = $2::uuid
         AND ($3::bigint IS NULL OR (attempted_at, delivery_id) < (${TS_US("$3")}, $4::bigint))
       ORDER BY attempted_at DESC, delivery_id DESC
       LIMIT ${q.limit + 1}`,
      [q.tenant, q.endpointId, q.before?.atUs ?? null, q.before?.id ?? null],
    );
    return rows.map(deliveryOf);
  }

  async recordDelivery(a: DeliveryAttempt): Promise<DeliveryEntry> {
    const rows = await this.table.rows(
      `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, attempt,
         status_code, error, succeeded, duration_ms, attempted_at, next_attempt_at)
       VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $7::text IS NULL, $8, ${TS("$9")},
         CASE WHEN $10::bigint IS NULL THEN NULL ELSE ${TS("$10")} END)
       RETURNING ${DELIVERY_COLUMNS}`,
      deliveryAttemptValues(a),
    );
    return deliveryOf(rows[0]!);
  }

  close(): Promise<void> {
    return this.table.close();
  }
}

function endpointOf(r: Row): WebhookEndpoint {
  return {
    id: String(r.id),
    tenant: String(r.tenant_id),
    url: String(r.url),
    types: (r.types as string[] | null) ?? [],
    createdAtMs: Number(r.created_ms),
    secretSealed: String(r.secret_sealed),
  };
}

function deliveryOf(r: Row): DeliveryEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.id) },
    id: String(r.id),
    tenant: String(r.tenant_id),
    endpointId: String(r.endpoint_id),
    eventId: String(r.event_id),
    eventType: String(r.event_type),
    attempt: Number(r.attempt),
    statusCode: r.status_code === null ? undefined : Number(r.status_code),
    error: r.error === null ? undefined : String(r.error),
    durationMs: Number(r.duration_ms),
    attemptedAtMs: Number(r.attempted_ms),
    nextAttemptAtMs: r.next_ms === null ? undefined : Number(r.next_ms),
  };
}
