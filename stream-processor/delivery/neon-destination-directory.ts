/** DestinationDirectory on Postgres (`destinations`), cached per tenant for a short time. */

import type { Logger } from "pino";
import { metaDestinationSettingsSchema, openDestinationToken } from "#core/destinations";
import type { Pool } from "../db/create-pool";
import type { DestinationDirectory, LiveDestination } from "./destination-directory";

interface Cached {
  destinations: LiveDestination[];
  loadedAtMs: number;
}

/**
 * A new destination is used, and a deleted one dropped, within `ttlMs`. A row whose token does
 * not open (another DESTINATION_ENCRYPTION_KEY) or whose settings do not parse is left out and
 * logged: its events are not forwarded anywhere rather than to the wrong place.
 */
export class NeonDestinationDirectory implements DestinationDirectory {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly pool: Pool,
    private readonly key: CryptoKey,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async destinationsOf(tenants: readonly string[]): Promise<Map<string, LiveDestination[]>> {
    const now = this.nowMs();
    const result = new Map<string, LiveDestination[]>();
    const missing: string[] = [];
    for (const tenant of new Set(tenants)) {
      const cached = this.cache.get(tenant);
      if (cached && now - cached.loadedAtMs < this.ttlMs) result.set(tenant, cached.destinations);
      else missing.push(tenant);
    }
    if (missing.length === 0) return result;
    const { rows } = await this.pool.query<{
      tenant_id: string;
      id: string;
      kind: string;
      settings: unknown;
      secret_sealed: string;
    }>(
      `SELECT tenant_id, destination_id::text AS id, kind, settings, secret_sealed
       FROM destinations WHERE tenant_id = ANY($1::text[]) AND disabled_at IS NULL
       ORDER BY tenant_id, created_at, destination_id`,
      [missing],
    );
    for (const tenant of missing) result.set(tenant, []);
    for (const row of rows) {
      const settings = metaDestinationSettingsSchema.safeParse(row.settings);
      const opened = await openDestinationToken(this.key, row.secret_sealed, {
        tenant: row.tenant_id,
        destinationId: row.id,
      });
      if (row.kind !== "meta" || !settings.success || !opened.ok) {
        this.log.error(
          {
            tenant: row.tenant_id,
            destination: row.id,
            reason: opened.ok ? "settings do not parse" : opened.reason,
          },
          "destination skipped: its events are not forwarded until it is fixed",
        );
        continue;
      }
      result.get(row.tenant_id)?.push({
        tenant: row.tenant_id,
        id: row.id,
        kind: "meta",
        settings: settings.data,
        token: opened.token,
      });
    }
    for (const tenant of missing) {
      this.cache.set(tenant, { destinations: result.get(tenant) ?? [], loadedAtMs: now });
    }
    return result;
  }
}
