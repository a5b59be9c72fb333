/** DestinationStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import type { Pool, PoolClient } from "@neondatabase/serverless";
import { metaDestinationSettingsSchema } from "#core/destinations";
import { DependencyUnavailableError } from "#core/errors";
import { createRequestPool, type NeonReadStoreOptions } from "../read-api/neon-read-store";
import type {
  CreateDestinationResult,
  DestinationStats,
  DestinationStore,
  StoredDestination,
} from "./destination-store";

type Row = Record<string, unknown>;

const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;
const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;
const COLUMNS = `destination_id::text AS id, tenant_id, kind, name, settings, secret_sealed,
  token_hint, ${MS("created_at")} AS created_ms`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class NeonDestinationStore implements DestinationStore {
  private readonly pool: Pool;

  constructor(options: NeonReadStoreOptions) {
    this.pool = createRequestPool(options);
  }

  async create(
    d: StoredDestination,
    maxPerTenant: number,
    beforeInsert?: () => Promise<void>,
  ): Promise<CreateDestinationResult> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    try {
      await client.query("BEGIN");
      // Concurrent creates of one tenant queue here, so the count below cannot be outrun.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `destinations:${d.tenant}`,
      ]);
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM destinations WHERE tenant_id = $1 AND disabled_at IS NULL",
        [d.tenant],
      );
      if (Number(rows[0]?.n ?? 0) >= maxPerTenant) {
        await client.query("ROLLBACK");
        return { kind: "limit-reached", limit: maxPerTenant };
      }
      await beforeInsert?.();
      const inserted = await client.query<Row>(
        `INSERT INTO destinations (tenant_id, destination_id, kind, name, settings, secret_sealed, token_hint, created_at)
         VALUES ($1, $2::uuid, $3, $4, $5::jsonb, $6, $7, ${TS("$8")})
         RETURNING ${COLUMNS}`,
        [
          d.tenant,
          d.id,
          d.kind,
          d.name,
          JSON.stringify(d.settings),
          d.secretSealed,
          d.tokenHint,
          String(d.createdAtMs),
        ],
      );
      await client.query("COMMIT");
      return { kind: "created", destination: destinationOf(inserted.rows[0]!) };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw unavailable(error);
    } finally {
      client.release();
    }
  }

  async list(tenant: string): Promise<StoredDestination[]> {
    const rows = await this.rows(
      `SELECT ${COLUMNS} FROM destinations WHERE tenant_id = $1 AND disabled_at IS NULL
       ORDER BY created_at, destination_id LIMIT 1000`,
      [tenant],
    );
    return rows.map(destinationOf);
  }

  async disable(tenant: string, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const rows = await this.rows(
      `UPDATE destinations SET disabled_at = now()
       WHERE tenant_id = $1 AND destination_id = $2::uuid AND disabled_at IS NULL
       RETURNING destination_id`,
      [tenant, id],
    );
    return rows.length > 0;
  }

  async stats(
    tenant: string,
    id: string,
    fromMs: number,
    toMs: number,
  ): Promise<DestinationStats | undefined> {
    if (!UUID.test(id)) return undefined;
    const exists = await this.rows(
      "SELECT 1 FROM destinations WHERE tenant_id = $1 AND destination_id = $2::uuid",
      [tenant, id],
    );
    if (exists.length === 0) return undefined;
    const range = [tenant, id, String(fromMs), String(toMs)];
    const where = `tenant_id = $1 AND destination_id = $2::uuid
      AND sent_at >= ${TS("$3")} AND sent_at < ${TS("$4")}`;
    const [totals, lastError, recent] = await Promise.all([
      this.rows(
        `SELECT count(*)::int AS batches,
           count(*) FILTER (WHERE status = 'delivered')::int AS delivered_batches,
           coalesce(sum(events) FILTER (WHERE status = 'delivered'), 0)::int AS delivered_events,
           coalesce(sum(events_received) FILTER (WHERE status = 'delivered'), 0)::int AS received,
           count(*) FILTER (WHERE status = 'dead-lettered')::int AS dead_batches,
           coalesce(sum(events) FILTER (WHERE status = 'dead-lettered'), 0)::int AS dead_events,
           coalesce(sum(attempts - 1), 0)::int AS retries,
           ${MS("max(sent_at) FILTER (WHERE status = 'delivered')")} AS last_delivered_ms
         FROM destination_batches WHERE ${where}`,
        range,
      ),
      this.rows(
        `SELECT ${MS("sent_at")} AS at_ms, error, fbtrace_id FROM destination_batches
         WHERE ${where} AND status = 'dead-lettered' ORDER BY sent_at DESC, batch_id DESC LIMIT 1`,
        range,
      ),
      this.rows(
        `SELECT ${MS("sent_at")} AS at_ms, status, events, attempts, http_status, events_received,
           fbtrace_id, messages, error
         FROM destination_batches WHERE ${where} ORDER BY sent_at DESC, batch_id DESC LIMIT 20`,
        range,
      ),
    ]);
    const t = totals[0] ?? {};
    const iso = (ms: unknown) =>
      ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
    const e = lastError[0];
    return {
      batches: Number(t.batches ?? 0),
      delivered: {
        batches: Number(t.delivered_batches ?? 0),
        events: Number(t.delivered_events ?? 0),
        eventsReceived: Number(t.received ?? 0),
      },
      deadLettered: { batches: Number(t.dead_batches ?? 0), events: Number(t.dead_events ?? 0) },
      retries: Number(t.retries ?? 0),
      lastDeliveredAt: iso(t.last_delivered_ms),
      lastError:
        e === undefined
          ? null
          : {
              at: iso(e.at_ms) as string,
              error: String(e.error ?? ""),
              fbtraceId: e.fbtrace_id === null ? null : String(e.fbtrace_id),
            },
      recent: recent.map((r) => ({
        at: iso(r.at_ms) as string,
        status: r.status === "delivered" ? "delivered" : "dead-lettered",
        events: Number(r.events),
        attempts: Number(r.attempts),
        httpStatus: r.http_status === null ? null : Number(r.http_status),
        eventsReceived: r.events_received === null ? null : Number(r.events_received),
        fbtraceId: r.fbtrace_id === null ? null : String(r.fbtrace_id),
        messages: Array.isArray(r.messages) ? r.messages.map(String) : [],
        error: r.error === null ? null : String(r.error),
      })),
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
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
    `The destinations database is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
    { cause: error },
  );
}

function destinationOf(r: Row): StoredDestination {
  return {
    id: String(r.id),
    tenant: String(r.tenant_id),
    kind: "meta",
    name: r.name === null ? null : String(r.name),
    settings: metaDestinationSettingsSchema.parse(r.settings),
    secretSealed: String(r.secret_sealed),
    tokenHint: String(r.token_hint),
    createdAtMs: Number(r.created_ms),
  };
}
