/**
 * `npm run tenants:delete -- --tenant <id> --yes`: deletes a tenant everywhere Driftline keeps it
 * (its Upstash Redis keys, every Postgres row but its audit entries, its R2 objects) and reports
 * what went from each place. Without `--yes` it only counts. `deleteTenant` is the operation, for
 * other command lines to call.
 */
import type { Redis } from "@upstash/redis";
import { ApiKeyRecordSchema, apiKeyRedisKey, TenantKeyEntrySchema } from "#core/api-keys";
import { redactDatabaseUrl } from "#core/config";
import { ConfigError } from "#core/errors";
import {
  KEPT_TENANT_TABLES,
  type ParkedBundlesReport,
  scrubParkedBundles,
  TENANT_TABLES,
  tenantCountStatement,
  tenantDeleteStatement,
  tenantRecordMatcher,
} from "#core/privacy";
import { parseCommandLine, usageError } from "./command-line";
import {
  appendKeyAudit,
  type KeyStoresConfig,
  keyStoresFromEnv,
  runIfMain,
  tenantIssues,
  tenantKeysRedisKey,
  withPostgres,
  withUpstash,
} from "./keys-common";
import {
  type OperatorBucket,
  type OperatorR2,
  openOperatorR2,
  requireDatabaseUrl,
} from "./privacy-stores";

export const USAGE = `Usage: npm run tenants:delete -- --tenant <id> [--yes]

  --tenant  the tenant to delete
  --yes     delete; without it nothing changes and the command counts what would go

Deletes, in this order:
  1. an audit entry tenant.delete (the tenant's audit entries are kept: docs/audit-log.md);
  2. Upstash Redis: the tenant's API keys (the edge refuses them within API_KEY_CACHE_TTL_MS),
     their rate-limit counters, its key index, origins, forwarding flag, model pointers and
     rejection counters;
  3. Postgres: every row of the tenant in every table but audit_log, in one transaction;
  4. R2: its models (tenants/<id>/…) and its records in parked dead-letter bundles.
Running it again completes a deletion that stopped half-way. Events of the tenant still in
Kafka are not deleted (they expire with the topics' retention, docs/retention.md).

Environment:
  DATABASE_URL              default: the local stack's database
  UPSTASH_REDIS_REST_URL    default http://127.0.0.1:8079
  UPSTASH_REDIS_REST_TOKEN  default: the local stack's
  R2_S3_ENDPOINT            a deployment's R2 S3 API (https://<account id>.r2.cloudflarestorage.com),
                            with R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (an R2 API token's);
                            R2_MODELS_BUCKET, R2_DEAD_LETTERS_BUCKET (default: wrangler.toml's).
                            Unset: the local stack's R2
  DRIFTLINE_STATE_DIR       the local stack's state dir, whose R2 persistence is used
  DRIFTLINE_OPERATOR        the name the audit log records (default: the OS user)`;

export interface DeleteTenantOptions extends KeyStoresConfig {
  tenant: string;
  databaseUrl: string;
  /** The Worker's buckets; absent: R2 is left as it is and the report says so. */
  r2?: { models: OperatorBucket; deadLetters: OperatorBucket; location: string };
  /** false: count only, change nothing. */
  apply: boolean;
}

/** Keys deleted per kind (or counted, without `apply`). */
export interface RedisDeletion {
  apiKeys: number;
  rateLimitCounters: number;
  tenantKeys: number;
  modelPointers: number;
  rejectionCounters: number;
}

export interface TenantDeletionReport {
  tenant: string;
  applied: boolean;
  /** Rows per table (deleted, or counted), every table of the inventory. */
  postgres: { url: string; tables: Record<string, number>; keptAuditEntries: number };
  redis: { url: string } & RedisDeletion;
  r2?: { location: string; models: number; deadLetters: ParkedBundlesReport | undefined };
}

/** Redis glob characters in a key id (ids come from the index; escape rather than trust). */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

async function scanKeys(redis: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | number = "0";
  do {
    const [next, page]: [string | number, string[]] = await redis.scan(cursor, {
      match,
      count: 1000,
    });
    keys.push(...page);
    cursor = next;
  } while (String(cursor) !== "0");
  return keys;
}

/**
 * The tenant's API keys as the key stores know them: its index, its Postgres rows, and (for
 * keys made before the index existed) every `key:*` record naming it.
 */
async function tenantApiKeys(
  redis: Redis,
  tenant: string,
  postgresKeys: { key_id: string; key_hash: string }[],
): Promise<{ keyIds: Set<string>; recordKeys: Set<string> }> {
  const keyIds = new Set(postgresKeys.map((k) => k.key_id));
  const hashes = new Set(postgresKeys.map((k) => k.key_hash));
  const index = (await redis.hgetall<Record<string, unknown>>(tenantKeysRedisKey(tenant))) ?? {};
  for (const [keyId, raw] of Object.entries(index)) {
    keyIds.add(keyId);
    const entry = TenantKeyEntrySchema.safeParse(raw);
    if (entry.success) hashes.add(entry.data.keyHash);
  }
  const recordKeys = new Set<string>();
  for (const hash of hashes) recordKeys.add(apiKeyRedisKey(hash));
  const all = await scanKeys(redis, "key:*");
  for (let i = 0; i < all.length; i += 500) {
    const chunk = all.slice(i, i + 500);
    const values = await redis.mget<unknown[]>(...chunk);
    values.forEach((value, j) => {
      const record = ApiKeyRecordSchema.safeParse(value ?? undefined);
      if (record.success && record.data.tenant === tenant) {
        recordKeys.add(chunk[j]!);
        keyIds.add(record.data.keyId);
      }
    });
  }
  // Only records that exist count; the index may name keys already revoked.
  const existing = new Set<string>();
  const list = [...recordKeys];
  for (let i = 0; i < list.length; i += 500) {
    const chunk = list.slice(i, i + 500);
    const values = await redis.mget<unknown[]>(...chunk);
    values.forEach((v, j) => {
      if (v !== null) existing.add(chunk[j]!);
    });
  }
  return { keyIds, recordKeys: existing };
}

/** Every Redis key of the tenant, by kind. Rate-limit keys are `ratelimit:<budget>:<key id>:<window>`. */
async function tenantRedisKeys(
  redis: Redis,
  tenant: string,
  postgresKeys: { key_id: string; key_hash: string }[],
): Promise<Record<keyof RedisDeletion, string[]>> {
  const { keyIds, recordKeys } = await tenantApiKeys(redis, tenant, postgresKeys);
  const rateLimitCounters: string[] = [];
  for (const keyId of keyIds) {
    rateLimitCounters.push(...(await scanKeys(redis, `ratelimit:*:${globEscape(keyId)}:*`)));
  }
  return {
    apiKeys: [...recordKeys],
    rateLimitCounters,
    // The key index, origins, forwarding flag: every `tenant:<id>:…` key.
    tenantKeys: await scanKeys(redis, `tenant:${tenant}:*`),
    modelPointers: await scanKeys(redis, `model:${tenant}:*`),
    rejectionCounters: await scanKeys(redis, `rejected:${tenant}:*`),
  };
}

async function deleteRedisKeys(
  redis: Redis,
  keys: Record<keyof RedisDeletion, string[]>,
): Promise<void> {
  // API keys first: from here on the edge stops accepting the tenant's requests.
  const order: (keyof RedisDeletion)[] = [
    "apiKeys",
    "rateLimitCounters",
    "tenantKeys",
    "modelPointers",
    "rejectionCounters",
  ];
  for (const kind of order) {
    for (let i = 0; i < keys[kind].length; i += 500) {
      await redis.del(...keys[kind].slice(i, i + 500));
    }
  }
}

async function tenantObjectKeys(bucket: OperatorBucket, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, ...(cursor === undefined ? {} : { cursor }) });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return keys;
}

/**
 * Deletes (or, without `apply`, counts) everything of the tenant. The audit entry comes first,
 * in its own transaction, so no part is deleted unrecorded; Redis next, so the edge stops
 * taking the tenant's traffic before its rows go; Postgres in one transaction; R2 last.
 */
export async function deleteTenant(options: DeleteTenantOptions): Promise<TenantDeletionReport> {
  const { tenant, databaseUrl, apply } = options;
  const url = redactDatabaseUrl(databaseUrl);

  const counted = await withPostgres(databaseUrl, "count the tenant's rows in", async (client) => {
    const tables: Record<string, number> = {};
    for (const table of TENANT_TABLES) {
      const { rows } = await client.query<{ n: string }>(tenantCountStatement(table), [tenant]);
      tables[table] = Number(rows[0]?.n ?? 0);
    }
    const kept = await client.query<{ n: string }>(tenantCountStatement("audit_log"), [tenant]);
    const keys = await client.query<{ key_id: string; key_hash: string }>(
      "SELECT key_id, key_hash FROM api_keys WHERE tenant_id = $1",
      [tenant],
    );
    return { tables, keptAuditEntries: Number(kept.rows[0]?.n ?? 0), keys: keys.rows };
  });

  const redisKeys = await withUpstash(options.redis, "find the tenant's keys in", (redis) =>
    tenantRedisKeys(redis, tenant, counted.keys),
  );
  const redisCounts = Object.fromEntries(
    Object.entries(redisKeys).map(([k, v]) => [k, v.length]),
  ) as unknown as RedisDeletion;

  const modelKeys =
    options.r2 === undefined ? [] : await tenantObjectKeys(options.r2.models, `tenants/${tenant}/`);

  if (!apply) {
    return {
      tenant,
      applied: false,
      postgres: { url, tables: counted.tables, keptAuditEntries: counted.keptAuditEntries },
      redis: { url: options.redis.url, ...redisCounts },
      ...(options.r2 === undefined
        ? {}
        : {
            r2: { location: options.r2.location, models: modelKeys.length, deadLetters: undefined },
          }),
    };
  }

  await withPostgres(
    databaseUrl,
    "record the deletion in",
    (client) =>
      appendKeyAudit(client, {
        tenant,
        action: "tenant.delete",
        target: `tenant:${tenant}`,
        before: { rows: counted.tables, redisKeys: redisCounts, r2Models: modelKeys.length },
        after: null,
      }),
    { transaction: true },
  );

  await withUpstash(options.redis, "delete the tenant's keys in", (redis) =>
    deleteRedisKeys(redis, redisKeys),
  );

  const tables = await withPostgres(
    databaseUrl,
    "delete the tenant's rows in",
    async (client) => {
      // Counted inside the transaction, before any delete: deleting metric_windows also removes
      // minute totals (their triggers), so a DELETE's own row count would undercount them.
      const deleted: Record<string, number> = {};
      for (const table of TENANT_TABLES) {
        const { rows } = await client.query<{ n: string }>(tenantCountStatement(table), [tenant]);
        deleted[table] = Number(rows[0]?.n ?? 0);
      }
      for (const table of TENANT_TABLES) {
        await client.query(tenantDeleteStatement(table), [tenant]);
      }
      // Anything still there is a write that raced the deletion: roll back rather than report
      // a tenant deleted that is not.
      for (const table of TENANT_TABLES) {
        const { rows } = await client.query<{ n: string }>(tenantCountStatement(table), [tenant]);
        if (Number(rows[0]?.n ?? 0) > 0) {
          throw new ConfigError(
            `Rows of tenant ${tenant} were written to ${table} during the deletion, so Postgres was left as it was. Stop the tenant's traffic (its keys are deleted now) and run again.`,
          );
        }
      }
      return deleted;
    },
    { transaction: true },
  );

  let r2: TenantDeletionReport["r2"];
  if (options.r2 !== undefined) {
    for (const key of modelKeys) await options.r2.models.delete(key);
    r2 = {
      location: options.r2.location,
      models: modelKeys.length,
      deadLetters: await scrubParkedBundles(options.r2.deadLetters, tenantRecordMatcher(tenant)),
    };
  }

  return {
    tenant,
    applied: true,
    postgres: { url, tables, keptAuditEntries: counted.keptAuditEntries + 1 },
    redis: { url: options.redis.url, ...redisCounts },
    ...(r2 === undefined ? {} : { r2 }),
  };
}

/** The lines the command prints. */
export function describeTenantDeletion(report: TenantDeletionReport): string {
  const verb = report.applied ? "deleted" : "would delete";
  const found =
    Object.values(report.postgres.tables).some((n) => n > 0) ||
    Object.values(report.redis).some((n) => typeof n === "number" && n > 0) ||
    (report.r2?.models ?? 0) > 0 ||
    (report.r2?.deadLetters?.records ?? 0) > 0;
  const lines = [
    `Tenant ${report.tenant}: ${report.applied ? "deleted" : "nothing changed (add --yes to delete)"}.${found ? "" : " Nothing of it was found (check the tenant id)."}`,
    `  Postgres ${report.postgres.url}: ${verb}`,
  ];
  for (const [table, n] of Object.entries(report.postgres.tables)) {
    if (n > 0) lines.push(`    ${table}: ${n}`);
  }
  const total = Object.values(report.postgres.tables).reduce((a, b) => a + b, 0);
  lines.push(
    `    (${total} rows in all; audit_log kept: ${report.postgres.keptAuditEntries} entries, ${KEPT_TENANT_TABLES.audit_log})`,
  );
  const r = report.redis;
  lines.push(
    `  Upstash Redis ${r.url}: ${verb} ${r.apiKeys} API keys, ${r.rateLimitCounters} rate-limit counters, ${r.tenantKeys} tenant keys (key index, origins, forwarding), ${r.modelPointers} model pointers, ${r.rejectionCounters} rejection counters`,
  );
  if (report.r2 === undefined) {
    lines.push(
      "  R2: not reached (no buckets given); delete tenants/<id>/ from the models bucket yourself.",
    );
  } else {
    const d = report.r2.deadLetters;
    lines.push(
      `  R2 ${report.r2.location}: ${verb} ${report.r2.models} model objects` +
        (d === undefined
          ? "; parked dead letters are scrubbed on --yes"
          : `; parked dead letters: ${d.records} records removed (${d.rewritten} bundles rewritten, ${d.deleted} deleted, ${d.scanned} read)`),
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const spec = {
    command: "npm run tenants:delete",
    usage: USAGE,
    options: { tenant: { type: "string" }, yes: { type: "boolean", default: false } },
  } as const;
  const { values } = parseCommandLine(spec);
  const tenant = values.tenant ?? "";
  const issues = tenantIssues(tenant);
  if (issues.length > 0) usageError(spec, `${issues[0]!.field} ${issues[0]!.message}`);
  const stores = keyStoresFromEnv(process.env);
  const r2: OperatorR2 = await openOperatorR2(process.env);
  try {
    const report = await deleteTenant({
      ...stores,
      tenant,
      databaseUrl: await requireDatabaseUrl(stores.databaseUrl),
      r2,
      apply: values.yes === true,
    });
    console.log(describeTenantDeletion(report));
  } finally {
    await r2.close();
  }
}

runIfMain(import.meta.url, main);
