/** DestinationStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import { metaDestinationSettingsSchema } from "#core/destinations";
import { MS, NeonTenantTable, type Row, TS, UUID } from "../db/neon-tenant-table";
import type { NeonReadStoreOptions } from "../read-api/neon-read-store";
import type {
  CreateDestinationResult,
  DestinationStats,
  DestinationStore,
  StoredDestination,
} from "./destination-store";

const COLUMNS = `destination_id::text AS id, tenant_id, kind, name, settings, secret_sealed,
  token_hint, ${MS("created_at")} AS created_ms`;

export class NeonDestinationStore implements DestinationStore {
  private readonly table: NeonTenantTable;

  constructor(options: NeonReadStoreOptions) {
    this.table = new NeonTenantTable(options, {
      table: "destinations",
      idColumn: "destination_id",
      name: "destinations",
    });
  }

  async create(
    d: StoredDestination,
    maxPerTenant: number,
    beforeInsert?: () => Promise<void>,
  ): Promise<CreateDestinationResult> {
    const result = await this.table.insertCapped(
      d.tenant,
      maxPerTenant,
      {
        text: `INSERT INTO destinations (tenant_id, destination_id, kind, name, settings, secret_sealed, token_hint, created_at)
         VALUES ($1, $2::uuid, $3, $4, $5::jsonb, $6, $7, ${TS("$8")})
         RETURNING ${COLUMNS}`,
        values: [
          d.tenant,
          d.id,
          d.kind,
          d.name,
          JSON.stringify(d.settings),
          d.secretSealed,
          d.tokenHint,
          String(d.createdAtMs),
        ],
        rowOf: destinationOf,
      },
      beforeInsert,
    );
    return result.kind === "created" ? { kind: "created", destination: result.row } : result;
  }

  async list(tenant: string): Promise<StoredDestination[]> {
    const rows = await this.table.rows(
      `SELECT ${COLUMNS} FROM destinations WHERE tenant_id = $1 AND disabled_at IS NULL
       ORDER BY created_at, destination_id LIMIT 1000`,
      [tenant],
    );
    return rows.map(destinationOf);
  }

  disable(tenant: string, id: string): Promise<boolean> {
    return this.table.disable(tenant, id);
  }

  async stats(
    tenant: string,
    id: string,
    fromMs: number,
    toMs: number,
  ): Promise<DestinationStats | undefined> {
    if (!UUID.test(id)) return undefined;
    const exists = await this.table.rows(
      "SELECT 1 FROM destinations WHERE tenant_id = $1 AND destination_id = $2::uuid",
      [tenant, id],
    );
    if (exists.length === 0) return undefined;
    const range = [tenant, id, String(fromMs), String(toMs)];
    const where = `tenant_id = $1 AND destination_id = $2::uuid
      AND sent_at >= ${TS("$3")} AND sent_at < ${TS("$4")}`;
    const [totals, lastError, recent] = await Promise.all([
      this.table.rows(
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
      this.table.rows(
        `SELECT ${MS("sent_at")} AS at_ms, error, fbtrace_id FROM destination_batches
         WHERE ${where} AND status = 'dead-lettered' ORDER BY sent_at DESC, batch_id DESC LIMIT 1`,
        range,
      ),
      this.table.rows(
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

  close(): Promise<void> {
    return this.table.close();
  }
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
