/** One request's pool on a tenant's table of live rows (destinations, webhook endpoints): reads, a create capped per tenant, a soft disable; a database failure is a retryable 503. */
import type { Pool, PoolClient } from "@neondatabase/serverless";
import { DependencyUnavailableError } from "#core/errors";
import { createRequestPool, type NeonReadStoreOptions } from "../read-api/neon-read-store";

export type Row = Record<string, unknown>;

/** A timestamptz column as epoch ms (text, so bigint survives the driver). */
export const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;
/** An epoch-ms bigint parameter as a timestamptz. */
export const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;

/** Row ids are uuids; anything else names no row (and must not reach a uuid cast). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface NeonTenantTableOptions {
  /** The table: `tenant_id`, a uuid id column and `disabled_at` (NULL while live). */
  table: string;
  /** The table's uuid id column. */
  idColumn: string;
  /** How an error names the database ("destinations", "webhook"). */
  name: string;
}

export type CappedInsertResult<T> =
  | { kind: "created"; row: T }
  | { kind: "limit-reached"; limit: number };

export class NeonTenantTable {
  private readonly pool: Pool;

  constructor(
    options: NeonReadStoreOptions,
    private readonly table: NeonTenantTableOptions,
  ) {
    this.pool = createRequestPool(options);
  }

  /** Runs one statement; a failure is a retryable DependencyUnavailableError. */
  async rows(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /**
   * Runs `insert` unless the tenant already has `maxPerTenant` live rows; its RETURNING row, read
   * by `rowOf`, is the result. `beforeInsert` runs once the cap is checked, just before the
   * insert (the audit entry); if it throws, nothing is inserted.
   */
  async insertCapped<T>(
    tenant: string,
    maxPerTenant: number,
    insert: { text: string; values: unknown[]; rowOf: (row: Row) => T },
    beforeInsert?: () => Promise<void>,
  ): Promise<CappedInsertResult<T>> {
    const { table } = this.table;
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.unavailable(error);
    }
    try {
      await client.query("BEGIN");
      // Concurrent creates of one tenant queue here, so the count below cannot be outrun.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `${table}:${tenant}`,
      ]);
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${table} WHERE tenant_id = $1 AND disabled_at IS NULL`,
        [tenant],
      );
      if (Number(rows[0]?.n ?? 0) >= maxPerTenant) {
        await client.query("ROLLBACK");
        return { kind: "limit-reached", limit: maxPerTenant };
      }
      await beforeInsert?.();
      const inserted = await client.query<Row>(insert.text, insert.values);
      await client.query("COMMIT");
      return { kind: "created", row: insert.rowOf(inserted.rows[0]!) };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw this.unavailable(error);
    } finally {
      client.release();
    }
  }

  /** Disables the tenant's live row `id`; false when the tenant has no such live row. */
  async disable(tenant: string, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const { table, idColumn } = this.table;
    const rows = await this.rows(
      `UPDATE ${table} SET disabled_at = now()
       WHERE tenant_id = $1 AND ${idColumn} = $2::uuid AND disabled_at IS NULL
       RETURNING ${idColumn}`,
      [tenant, id],
    );
    return rows.length > 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private unavailable(error: unknown): DependencyUnavailableError {
    if (error instanceof DependencyUnavailableError) return error;
    return new DependencyUnavailableError(
      `The ${this.table.name} database is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
      { cause: error },
    );
  }
}
