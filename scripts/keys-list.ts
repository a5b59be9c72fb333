/**
 * `npm run keys:list -- --tenant <id> [--json]`: the tenant's API keys (id, roles, name, created,
 * revoked), from Postgres `api_keys` when there is a database, else from the per-tenant key index
 * in Upstash Redis. Never prints a key or its hash.
 */

import { redactDatabaseUrl } from "#core/config";
import { IDENTIFIER_RULE } from "#core/scoring";
import {
  environmentUsage,
  type KeyStoresConfig,
  readTenantCommandLine,
  runIfMain,
  TenantKeyEntrySchema,
  tenantKeysRedisKey,
  throwIfIssues,
  withLocalStackDatabase,
  withPostgres,
  withUpstash,
} from "./keys-common";

export const USAGE = `Usage: npm run keys:list -- --tenant <id> [--json]

  --tenant   tenant id (${IDENTIFIER_RULE})
  --json     print a JSON array of { keyId, roles, name, createdAt, revokedAt } instead of a table

Lists from Postgres api_keys when there is a database, else from Upstash Redis (keys created
before the per-tenant key index are missing there). Keys and their hashes are never shown.

${environmentUsage("list from Postgres api_keys")}`;

export interface ListKeysOptions extends KeyStoresConfig {
  tenant: string;
}

export interface ListedKey {
  keyId: string;
  roles: string[];
  name: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface ListKeysResult {
  /** Where the listing came from, e.g. `Postgres postgres://…` (password redacted). */
  source: string;
  keys: ListedKey[];
}

/** Parses the CLI arguments; a ValidationError names each bad one. */
export function parseListArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): ListKeysOptions & { json: boolean } {
  const { values, tenant, issues, stores } = readTenantCommandLine(
    argv,
    { json: { type: "boolean", default: false } },
    USAGE,
    env,
  );
  throwIfIssues(issues, USAGE);
  return { tenant, json: values.json, ...stores };
}

/** The tenant's keys, oldest first. */
export async function listApiKeys(options: ListKeysOptions): Promise<ListKeysResult> {
  if (options.databaseUrl !== undefined) {
    const keys = await withPostgres(options.databaseUrl, "list the keys in", async (client) => {
      const { rows } = await client.query<{
        key_id: string;
        roles: string[];
        name: string | null;
        created_at: Date;
        revoked_at: Date | null;
      }>(
        `SELECT key_id, roles, name, created_at, revoked_at FROM api_keys
          WHERE tenant_id = $1 ORDER BY created_at, key_id`,
        [options.tenant],
      );
      return rows.map((row) => ({
        keyId: row.key_id,
        roles: row.roles,
        name: row.name,
        createdAt: row.created_at.toISOString(),
        revokedAt: row.revoked_at?.toISOString() ?? null,
      }));
    });
    return { source: `Postgres ${redactDatabaseUrl(options.databaseUrl)}`, keys };
  }

  const entries = await withUpstash(options.redis, "list the keys in", (redis) =>
    redis.hgetall<Record<string, unknown>>(tenantKeysRedisKey(options.tenant)),
  );
  const keys: ListedKey[] = [];
  for (const [keyId, raw] of Object.entries(entries ?? {})) {
    const entry = TenantKeyEntrySchema.safeParse(raw);
    if (!entry.success) {
      console.error(`Skipping ${keyId}: its index entry in Upstash Redis is malformed.`);
      continue;
    }
    keys.push({
      keyId,
      roles: entry.data.roles,
      name: entry.data.name ?? null,
      createdAt: entry.data.createdAt,
      revokedAt: entry.data.revokedAt ?? null,
    });
  }
  keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
  return { source: `Upstash Redis ${options.redis.url}`, keys };
}

/** A plain-text table, one key a line; "-" where there is no name or revocation. */
export function formatKeyTable(keys: readonly ListedKey[]): string {
  const header = ["KEY ID", "ROLES", "NAME", "CREATED", "REVOKED"];
  const rows = keys.map((k) => [
    k.keyId,
    k.roles.join(","),
    k.name ?? "-",
    k.createdAt,
    k.revokedAt ?? "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((cells) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * Lists the tenant's keys and prints them (what `npm run keys:list` and `driftline keys list` do):
 * a table on stdout (where it came from on stderr), or JSON with `json`.
 */
export async function runListKeys(parsed: ListKeysOptions & { json: boolean }): Promise<void> {
  const options = await withLocalStackDatabase(
    parsed,
    "listing from Upstash Redis (set DATABASE_URL to list from Postgres).",
  );
  const { source, keys } = await listApiKeys(options);
  if (options.json) {
    console.log(JSON.stringify(keys));
    return;
  }
  const active = keys.filter((k) => k.revokedAt === null).length;
  // The table on stdout; where it came from on stderr, so the table can be piped alone.
  console.error(
    `${keys.length} key(s) of tenant ${options.tenant}, ${active} active, from ${source}.`,
  );
  if (keys.length > 0) console.log(formatKeyTable(keys));
}

async function main(): Promise<void> {
  await runListKeys(parseListArgs(process.argv.slice(2)));
}

runIfMain(import.meta.url, main);
