/** AuditLog on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import type { Pool } from "@neondatabase/serverless";
import {
  type AuditAction,
  type AuditActor,
  type AuditEntryInput,
  auditInsertStatement,
} from "#core/audit";
import { DependencyUnavailableError } from "#core/errors";
import { createRequestPool, type NeonReadStoreOptions } from "../read-api/neon-read-store";
import type { AuditLog, AuditPageEntry, AuditQuery } from "./audit-log";

type Row = Record<string, unknown>;

const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;
const TS_US = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;

/**
 * Newest first along the (tenant_id, recorded_at, entry_id) index, or its action twin. Times are
 * floored to the ms, so `from` = an entry's `recordedAt` includes it and `to` = it excludes it.
 */
const LIST_SQL = (limit: number) => `
  SELECT entry_id::text AS id, tenant_id,
    floor(extract(epoch FROM recorded_at) * 1000000)::bigint::text AS at_us,
    floor(extract(epoch FROM recorded_at) * 1000)::bigint::text AS at_ms,
    actor_kind, actor_id, request_id, action, target, before_state, after_state
  FROM audit_log
  WHERE tenant_id = $1
    AND recorded_at >= ${TS("$2")} AND recorded_at < ${TS("$3")}
    AND ($4::text IS NULL OR action = $4)
    AND ($5::bigint IS NULL OR (recorded_at, entry_id) < (${TS_US("$5")}, $6::bigint))
  ORDER BY recorded_at DESC, entry_id DESC
  LIMIT ${limit}`;

export class NeonAuditLog implements AuditLog {
  private readonly pool: Pool;

  constructor(options: NeonReadStoreOptions) {
    this.pool = createRequestPool(options);
  }

  async append(entry: AuditEntryInput): Promise<{ id: string; recordedAtMs: number }> {
    const { text, values } = auditInsertStatement(entry);
    const rows = await this.rows(text, values);
    return { id: String(rows[0]!.id), recordedAtMs: Number(rows[0]!.at_ms) };
  }

  async list(q: AuditQuery): Promise<AuditPageEntry[]> {
    const rows = await this.rows(LIST_SQL(q.limit + 1), [
      q.tenant,
      String(q.fromMs),
      String(q.toMs),
      q.action ?? null,
      q.before?.atUs ?? null,
      q.before?.id ?? null,
    ]);
    return rows.map(entryOf);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw new DependencyUnavailableError(
        `The audit log is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
        { cause: error },
      );
    }
  }
}

function entryOf(r: Row): AuditPageEntry {
  const actor: AuditActor =
    r.actor_kind === "operator"
      ? { kind: "operator", name: String(r.actor_id) }
      : { kind: "api-key", keyId: String(r.actor_id) };
  return {
    key: { atUs: String(r.at_us), id: String(r.id) },
    id: String(r.id),
    tenant: String(r.tenant_id),
    recordedAtMs: Number(r.at_ms),
    actor,
    requestId: String(r.request_id),
    action: String(r.action) as AuditAction,
    target: String(r.target),
    before: r.before_state ?? null,
    after: r.after_state ?? null,
  };
}
