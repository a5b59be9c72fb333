/** WebhookStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import type { Pool } from "@neondatabase/serverless";
import { DependencyUnavailableError } from "#core/errors";
import { deliveryAttemptValues } from "#core/webhooks";
import { createRequestPool, type NeonReadStoreOptions } from "../read-api/neon-read-store";
import type {
  CreateEndpointResult,
  DeliveryAttempt,
  DeliveryEntry,
  DeliveryQuery,
  WebhookEndpoint,
  WebhookStore,
} from "./webhook-store";

type Row = Record<string, unknown>;

const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;
const US = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::bigint::text`;
const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;
const TS_US = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;

const ENDPOINT_COLUMNS = `endpoint_id::text AS id, tenant_id, url, types, secret_sealed,
  ${MS("created_at")} AS created_ms`;

const DELIVERY_COLUMNS = `${US("attempted_at")} AS at_us, delivery_id::text AS id, tenant_id,
  endpoint_id::text AS endpoint_id, event_id, event_type, attempt, status_code, error,
  duration_ms, ${MS("attempted_at")} AS attempted_ms, ${MS("next_attempt_at")} AS next_ms`;

/** Endpoint ids are uuids; anything else names no endpoint (and must not reach a uuid cast). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class NeonWebhookStore implements WebhookStore {
  private readonly pool: Pool;

  constructor(options: NeonReadStoreOptions) {
    this.pool = createRequestPool(options);
  }

  async createEndpoint(
    e: WebhookEndpoint,
    maxPerTenant: number,
    beforeInsert?: () => Promise<void>,
  ): Promise<CreateEndpointResult> {
    const client = await this.connect();
    try {
      await client.query("BEGIN");
      // Concurrent creates of one tenant queue here, so the count below cannot be outrun.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `webhook_endpoints:${e.tenant}`,
      ]);
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM webhook_endpoints WHERE tenant_id = $1 AND disabled_at IS NULL",
        [e.tenant],
      );
      if (Number(rows[0]?.n ?? 0) >= maxPerTenant) {
        await client.query("ROLLBACK");
        return { kind: "limit-reached", limit: maxPerTenant };
      }
      await beforeInsert?.();
      const inserted = await client.query<Row>(
        `INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, types, secret_sealed, created_at)
         VALUES ($1, $2::uuid, $3, $4::text[], $5, ${TS("$6")})
         RETURNING ${ENDPOINT_COLUMNS}`,
        [e.tenant, e.id, e.url, e.types, e.secretSealed, String(e.createdAtMs)],
      );
      await client.query("COMMIT");
      return { kind: "created", endpoint: endpointOf(inserted.rows[0]!) };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw unavailable(error);
    } finally {
      client.release();
    }
  }

  async listEndpoints(tenant: string): Promise<WebhookEndpoint[]> {
    const rows = await this.rows(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
       WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY created_at, endpoint_id LIMIT 1000`,
      [tenant],
    );
    return rows.map(endpointOf);
  }

  async getEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | undefined> {
    if (!UUID.test(id)) return undefined;
    const rows = await this.rows(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
       WHERE tenant_id = $1 AND endpoint_id = $2::uuid AND disabled_at IS NULL`,
      [tenant, id],
    );
    return rows[0] === undefined ? undefined : endpointOf(rows[0]);
  }

  async disableEndpoint(tenant: string, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const rows = await this.rows(
      `UPDATE webhook_endpoints SET disabled_at = now()
       WHERE tenant_id = $1 AND endpoint_id = $2::uuid AND disabled_at IS NULL
       RETURNING endpoint_id`,
      [tenant, id],
    );
    return rows.length > 0;
  }

  async listDeliveries(q: DeliveryQuery): Promise<DeliveryEntry[]> {
    if (!UUID.test(q.endpointId)) return [];
    const rows = await this.rows(
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
    const rows = await this.rows(
      `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, attempt,
         status_code, error, succeeded, duration_ms, attempted_at, next_attempt_at)
       VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $7::text IS NULL, $8, ${TS("$9")},
         CASE WHEN $10::bigint IS NULL THEN NULL ELSE ${TS("$10")} END)
       RETURNING ${DELIVERY_COLUMNS}`,
      deliveryAttemptValues(a),
    );
    return deliveryOf(rows[0]!);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async connect() {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
  }

  private async rows(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function unavailable(error: unknown): DependencyUnavailableError {
  if (error instanceof DependencyUnavailableError) return error;
  return new DependencyUnavailableError(
    `The webhook database is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
    { cause: error },
  );
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
