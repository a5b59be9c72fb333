/**
 * `npm run keys:revoke -- --tenant <id> (--key-id <id> | --key <full key>)`: deletes the key's
 * record from Upstash Redis (the edge stops accepting it) and sets `revoked_at` in Postgres
 * `api_keys` (the stream processor's read API stops accepting it). Idempotent: revoking a revoked
 * key changes nothing and says so.
 */
import { API_KEY_PATTERN, ApiKeyRecordSchema, apiKeyRedisKey, hashApiKey } from "#core/api-keys";
import { redactDatabaseUrl } from "#core/config";
import { ConfigError, type FieldIssue, NotFoundError, ValidationError } from "#core/errors";
import { IDENTIFIER_RULE } from "#core/scoring";
import {
  appendKeyAudit,
  environmentUsage,
  type KeyStoresConfig,
  readTenantCommandLine,
  runIfMain,
  type TenantKeyEntry,
  TenantKeyEntrySchema,
  tenantIssues,
  tenantKeysRedisKey,
  throwIfIssues,
  withLocalStackDatabase,
  withPostgres,
  withUpstash,
} from "./keys-common";

export const USAGE = `Usage: npm run keys:revoke -- --tenant <id> (--key-id <id> | --key <key>) [--redis-only]

  --tenant   tenant id (${IDENTIFIER_RULE}); a key of another tenant is refused
  --key-id   the key's id (key_…), as keys:create and keys:list print it
  --key      the key itself (dl_…), for keys created before the per-tenant key index; "-" reads it
             from standard input (a key on the command line stays in the shell's history)
  --redis-only  revoke without a database, in Upstash Redis alone. Only for deployments whose
             keys are not in Postgres: a key also stored there stays valid for the stream
             processor's read API until the command runs again with DATABASE_URL set

Deletes the key from Upstash Redis and sets revoked_at in Postgres api_keys. Running it again
changes nothing. A revoked key is refused
  - at the edge (Worker) once each isolate's cached lookup expires: at most API_KEY_CACHE_TTL_MS
    later (10 s by default, 300 s at most);
  - by the stream processor's read API at most STREAM_API_KEY_CACHE_TTL_MS later (30 s by default).

${environmentUsage("also revoke the key in Postgres api_keys")}`;

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export type KeyToRevoke = { keyId: string } | { key: string };

export interface RevokeKeyOptions extends KeyStoresConfig {
  tenant: string;
  target: KeyToRevoke;
  /**
   * Revoke with Upstash Redis alone when there is no database. Without it, no database is an
   * error and nothing changes: a key in Postgres `api_keys` would stay valid for the stream
   * processor's read API while the command reported it revoked.
   */
  redisOnly?: boolean;
}

export interface RevokeKeyResult {
  tenant: string;
  keyId: string;
  /** `revokedAt` when the key's index entry already recorded a revocation. */
  upstash: { url: string; removed: boolean; revokedAt?: string };
  /** Absent without a database; `found: false` when the key was never stored there. */
  postgres?:
    | { url: string; found: false }
    | { url: string; found: true; revokedAt: string; alreadyRevoked: boolean };
}

/**
 * Parses the CLI arguments; a ValidationError names each bad one. `--key -` is returned as is
 * (main reads standard input), since reading it is no business of parsing.
 */
export function parseRevokeArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): RevokeKeyOptions {
  const { values, tenant, issues, stores } = readTenantCommandLine(
    argv,
    {
      "key-id": { type: "string" },
      key: { type: "string" },
      "redis-only": { type: "boolean", default: false },
    },
    USAGE,
    env,
  );
  const checked = checkRevokeKeyInput(
    tenant,
    {
      ...(values["key-id"] === undefined ? {} : { keyId: values["key-id"] }),
      ...(values.key === undefined ? {} : { key: values.key }),
      redisOnly: values["redis-only"],
    },
    issues,
  );
  throwIfIssues(checked.issues, USAGE);
  return { ...checked.options, ...stores };
}

/** What a command line names to revoke, before checking. */
export interface RevokeKeyInput {
  keyId?: string;
  key?: string;
  redisOnly?: boolean;
}

/** Checks what to revoke: the options, or the issues naming each bad argument (by its flag). */
export function checkRevokeKeyInput(
  tenant: string,
  input: RevokeKeyInput,
  issues: FieldIssue[] = tenantIssues(tenant),
): { options: Omit<RevokeKeyOptions, keyof KeyStoresConfig>; issues: FieldIssue[] } {
  const { keyId, key } = input;
  if ((keyId === undefined) === (key === undefined)) {
    issues.push({ field: "--key-id", message: "give either --key-id or --key (one of them)" });
  } else if (keyId !== undefined && !KEY_ID_PATTERN.test(keyId)) {
    issues.push({ field: "--key-id", message: `"${keyId}" is not a key id like key_0123abcd…` });
  } else if (key !== undefined && key !== "-" && !API_KEY_PATTERN.test(key)) {
    // The value is not echoed: it may be a real secret with a typo.
    issues.push({ field: "--key", message: "is not a Driftline API key (dl_…)" });
  }
  return {
    options: {
      tenant,
      target: keyId !== undefined ? { keyId } : { key: key ?? "" },
      ...(input.redisOnly ? { redisOnly: true } : {}),
    },
    issues,
  };
}

interface PostgresKeyRow {
  tenant_id: string;
  key_id: string;
  key_hash: string;
  revoked_at: Date | null;
}

/** What the stores hold for the key: found in at least one of them, and the tenant's. */
interface ResolvedKey {
  keyId: string;
  keyHash: string;
  indexEntry: TenantKeyEntry | undefined;
  row: PostgresKeyRow | undefined;
}

function notFound(options: RevokeKeyOptions, keyName: string): NotFoundError {
  const where = [
    `Upstash Redis at ${options.redis.url}`,
    ...(options.databaseUrl ? [`Postgres at ${redactDatabaseUrl(options.databaseUrl)}`] : []),
  ].join(" or ");
  const hint =
    "keyId" in options.target
      ? " Check the id with npm run keys:list; a key created before the per-tenant key index and not stored in Postgres can be revoked with --key."
      : "";
  return new NotFoundError(
    `No key ${keyName} of tenant ${options.tenant} in ${where}; nothing was changed.${hint}`,
  );
}

/**
 * Finds the key in both stores. By id, every lookup is scoped to the tenant, so another
 * tenant's key is simply not found. By value, the key names its tenant: a key of another tenant
 * is refused without saying which tenant or key it is.
 */
async function resolveKey(options: RevokeKeyOptions): Promise<ResolvedKey> {
  const { tenant, target } = options;
  const indexKey = tenantKeysRedisKey(tenant);
  const lookupRow = async (where: string, params: string[]) =>
    options.databaseUrl === undefined
      ? undefined
      : await withPostgres(options.databaseUrl, "look the key up in", async (client) => {
          const { rows } = await client.query<PostgresKeyRow>(
            `SELECT tenant_id, key_id, key_hash, revoked_at FROM api_keys WHERE ${where}`,
            params,
          );
          return rows[0];
        });

  if ("keyId" in target) {
    const rawEntry = await withUpstash(options.redis, "look the key up in", (redis) =>
      redis.hget(indexKey, target.keyId),
    );
    const indexEntry = parseEntry(rawEntry);
    const row = await lookupRow("tenant_id = $1 AND key_id = $2", [tenant, target.keyId]);
    const keyHash = indexEntry?.keyHash ?? row?.key_hash;
    if (keyHash === undefined) throw notFound(options, target.keyId);
    return { keyId: target.keyId, keyHash, indexEntry, row };
  }

  const keyHash = await hashApiKey(target.key);
  const rawRecord = await withUpstash(options.redis, "look the key up in", (redis) =>
    redis.get(apiKeyRedisKey(keyHash)),
  );
  const record = ApiKeyRecordSchema.safeParse(rawRecord ?? undefined);
  const row = await lookupRow("key_hash = $1", [keyHash]);
  const owners = new Set([
    ...(record.success ? [record.data.tenant] : []),
    ...(row ? [row.tenant_id] : []),
  ]);
  if (owners.size === 0) throw notFound(options, "with that value");
  if ([...owners].some((owner) => owner !== tenant)) {
    throw new NotFoundError(
      `That key is not one of tenant ${tenant}'s keys (it belongs to another tenant); nothing was changed.`,
    );
  }
  const keyId = record.success ? record.data.keyId : row!.key_id;
  const indexEntry = parseEntry(
    await withUpstash(options.redis, "look the key up in", (redis) => redis.hget(indexKey, keyId)),
  );
  return { keyId, keyHash, indexEntry, row };
}

function parseEntry(raw: unknown): TenantKeyEntry | undefined {
  const parsed = TenantKeyEntrySchema.safeParse(raw ?? undefined);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Revokes the key in Postgres, then deletes it from Upstash Redis. Postgres first so that its
 * `revoked_at` is also the time recorded in the Redis index; a failure there changes nothing in
 * Redis, and running the command again completes a revocation that stopped half-way.
 */
export async function revokeApiKey(options: RevokeKeyOptions): Promise<RevokeKeyResult> {
  if (options.databaseUrl === undefined && options.redisOnly !== true) {
    throw new ConfigError(
      "No database to revoke the key in, so nothing was changed: revoking it in Upstash Redis alone would leave it valid for the stream processor's read API (Postgres api_keys). Set DATABASE_URL (or start the local stack) and run again; pass --redis-only only if this deployment keeps no keys in Postgres.",
    );
  }
  const resolved = await resolveKey(options);
  const { tenant } = options;
  const { keyId, keyHash } = resolved;

  let postgres: RevokeKeyResult["postgres"];
  if (options.databaseUrl !== undefined) {
    const url = redactDatabaseUrl(options.databaseUrl);
    if (resolved.row === undefined) {
      postgres = { url, found: false };
      // Known to Redis only: the entry is written before Redis changes, so a failure stops here.
      if (resolved.indexEntry?.revokedAt === undefined) {
        await withPostgres(options.databaseUrl, "record the revocation in", (client) =>
          appendKeyAudit(client, revocationAudit(tenant, keyId)),
        );
      }
    } else {
      postgres = await withPostgres(
        options.databaseUrl,
        "revoke the key in",
        async (client) => {
          // GREATEST: created_at came from the clock of the machine that ran keys:create, and the
          // table requires revoked_at >= created_at.
          const updated = await client.query<{ revoked_at: Date }>(
            `UPDATE api_keys SET revoked_at = GREATEST(now(), created_at)
            WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL
            RETURNING revoked_at`,
            [tenant, keyId],
          );
          if (updated.rows[0]) {
            await appendKeyAudit(
              client,
              revocationAudit(tenant, keyId, updated.rows[0].revoked_at),
            );
            return {
              url,
              found: true,
              revokedAt: updated.rows[0].revoked_at.toISOString(),
              alreadyRevoked: false,
            };
          }
          const { rows } = await client.query<{ revoked_at: Date }>(
            "SELECT revoked_at FROM api_keys WHERE tenant_id = $1 AND key_id = $2",
            [tenant, keyId],
          );
          return {
            url,
            found: true,
            revokedAt: rows[0]!.revoked_at.toISOString(),
            alreadyRevoked: true,
          };
        },
        { transaction: true },
      );
    }
  }

  const revokedAt =
    resolved.indexEntry?.revokedAt ??
    (postgres?.found ? postgres.revokedAt : new Date().toISOString());
  const removed = await withUpstash(options.redis, "revoke the key in", async (redis) => {
    // Only a record of this tenant and id is deleted: the hash came from the tenant's own index
    // or Postgres row, and a record naming anything else is not this command's to touch.
    const record = ApiKeyRecordSchema.safeParse(
      (await redis.get(apiKeyRedisKey(keyHash))) ?? undefined,
    );
    const ours = record.success && record.data.tenant === tenant && record.data.keyId === keyId;
    const tx = redis.multi();
    if (ours) tx.del(apiKeyRedisKey(keyHash));
    if (resolved.indexEntry && resolved.indexEntry.revokedAt === undefined) {
      tx.hset(tenantKeysRedisKey(tenant), { [keyId]: { ...resolved.indexEntry, revokedAt } });
    }
    if (tx.length() > 0) await tx.exec();
    return ours;
  });

  return {
    tenant,
    keyId,
    upstash: {
      url: options.redis.url,
      removed,
      ...(resolved.indexEntry?.revokedAt === undefined
        ? {}
        : { revokedAt: resolved.indexEntry.revokedAt }),
    },
    ...(postgres === undefined ? {} : { postgres }),
  };
}

/** The lines keys:revoke prints: what changed in each store, and when the services notice. */
export function describeRevocation(result: RevokeKeyResult): string {
  const lines = [`Key ${result.keyId} of tenant ${result.tenant}:`];
  const { upstash } = result;
  lines.push(
    upstash.removed
      ? `  Upstash Redis ${upstash.url}: deleted; the edge refuses it within API_KEY_CACHE_TTL_MS (10 s by default).`
      : upstash.revokedAt !== undefined
        ? `  Upstash Redis ${upstash.url}: already deleted (revoked at ${upstash.revokedAt}); nothing to do.`
        : `  Upstash Redis ${upstash.url}: no record there (already deleted, or never stored there); nothing to do.`,
  );
  const pg = result.postgres;
  if (pg === undefined) {
    lines.push(
      "  Postgres: not checked (no database); set DATABASE_URL to revoke it for the stream processor's read API too.",
    );
  } else if (!pg.found) {
    lines.push(`  Postgres ${pg.url}: not stored there; nothing to do.`);
  } else if (pg.alreadyRevoked) {
    lines.push(`  Postgres ${pg.url}: already revoked at ${pg.revokedAt}; nothing to do.`);
  } else {
    lines.push(
      `  Postgres ${pg.url}: revoked_at set to ${pg.revokedAt}; the read API refuses it within STREAM_API_KEY_CACHE_TTL_MS (30 s by default).`,
    );
  }
  return lines.join("\n");
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

/**
 * Revokes the key and prints what changed (what `npm run keys:revoke` and `driftline keys revoke`
 * do); `--key -` reads the key from standard input.
 */
export async function runRevokeKey(parsed: RevokeKeyOptions): Promise<void> {
  let options = parsed;
  if ("key" in options.target && options.target.key === "-") {
    const key = await readStdin();
    if (!API_KEY_PATTERN.test(key)) {
      throw new ValidationError(
        `--key -: standard input does not hold a Driftline API key (dl_…)\n\n${USAGE}`,
      );
    }
    options = { ...options, target: { key } };
  }
  options = await withLocalStackDatabase(
    options,
    options.redisOnly === true
      ? "revoking in Redis only (--redis-only)."
      : "the key cannot be revoked everywhere.",
  );
  console.log(describeRevocation(await revokeApiKey(options)));
}

async function main(): Promise<void> {
  await runRevokeKey(parseRevokeArgs(process.argv.slice(2)));
}

runIfMain(import.meta.url, main);

/** The audit entry of a revocation: the key by its id, never its value or hash. */
function revocationAudit(tenant: string, keyId: string, revokedAt?: Date) {
  return {
    tenant,
    action: "api-key.revoke" as const,
    target: `api-key:${keyId}`,
    before: { keyId, revoked: false },
    after: { keyId, revoked: true, ...(revokedAt ? { revokedAt: revokedAt.toISOString() } : {}) },
  };
}
