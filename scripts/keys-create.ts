/**
 * `npm run keys:create -- --tenant <id> --roles admin,score,ingest [--origins https://a.example]`:
 * creates an API key, stores its SHA-256 hash in Upstash Redis (and in Postgres `api_keys` when
 * DATABASE_URL is set, for the stream processor's read API) and prints the key once.
 */
import {
  apiKeyRedisKey,
  generateApiKey,
  type KeyRateLimit,
  type NewApiKey,
  normalizeOrigin,
  parseKeyRateLimit,
  ROLES,
  type Role,
  tenantOriginsRedisKey,
} from "#core/api-keys";
import { redactDatabaseUrl } from "#core/config";
import type { FieldIssue } from "#core/errors";
import { IDENTIFIER_RULE } from "#core/scoring";
import {
  appendKeyAudit,
  environmentUsage,
  type KeyStoresConfig,
  readTenantCommandLine,
  runIfMain,
  type TenantKeyEntry,
  tenantIssues,
  tenantKeysRedisKey,
  throwIfIssues,
  withLocalStackDatabase,
  withPostgres,
  withUpstash,
} from "./keys-common";

export const USAGE = `Usage: npm run keys:create -- --tenant <id> --roles <role,…> [--origins <origin,…>] [--rate-limit <n>/<window>] [--name <label>] [--json]

  --tenant   tenant id (${IDENTIFIER_RULE})
  --roles    comma-separated: ${ROLES.join(", ")}
  --origins  browser origins allowed to send events for the tenant (CORS), comma-separated or repeated
  --rate-limit  the key's own request limit, e.g. 600/min, 5000/60s, 100000/1h; default: the
             Worker's RATE_LIMIT_INGEST_REQUESTS for keys with the ingest role, else RATE_LIMIT_REQUESTS
  --name     a label for the key, shown by keys:list
  --json     print { key, keyId, tenant, roles, origins } as JSON instead of the bare key

${environmentUsage("also insert into Postgres api_keys")}

Revoke a key with npm run keys:revoke, list a tenant's keys with npm run keys:list.`;

export interface CreateKeyOptions extends KeyStoresConfig {
  tenant: string;
  roles: Role[];
  origins: string[];
  name?: string;
  rateLimit?: KeyRateLimit;
}

export interface CreateKeyResult extends NewApiKey {
  origins: string[];
  wroteTo: string[];
}

/** What a command line gives for a new key, before checking (`npm run keys:create`, `driftline keys create`). */
export interface CreateKeyInput {
  roles?: string;
  origins?: readonly string[];
  name?: string;
  rateLimit?: string;
}

/**
 * Checks a new key's roles, origins and rate limit: the options, or the issues naming each bad
 * argument (by its flag).
 */
export function checkCreateKeyInput(
  tenant: string,
  input: CreateKeyInput,
  issues: FieldIssue[] = tenantIssues(tenant),
): { options: Omit<CreateKeyOptions, keyof KeyStoresConfig>; issues: FieldIssue[] } {
  const roles = (input.roles ?? "")
    .split(",")
    .map((r) => r.trim())
    .filter((r) => r !== "");
  if (roles.length === 0)
    issues.push({ field: "--roles", message: `give one or more of ${ROLES.join(", ")}` });
  for (const role of roles) {
    if (!(ROLES as readonly string[]).includes(role)) {
      issues.push({ field: "--roles", message: `"${role}" is not one of ${ROLES.join(", ")}` });
    }
  }
  const origins: string[] = [];
  for (const raw of (input.origins ?? []).flatMap((o) => o.split(","))) {
    if (raw.trim() === "") continue;
    const origin = raw.trim() === "*" ? "*" : normalizeOrigin(raw.trim());
    if (origin === undefined) {
      issues.push({
        field: "--origins",
        message: `"${raw}" is not an http(s) origin like https://shop.example`,
      });
    } else origins.push(origin);
  }
  if (origins.length > 0 && roles.some((r) => r !== "ingest")) {
    issues.push({
      field: "--roles",
      message:
        "a key with --origins is publishable (made to be embedded in web pages) and may only have the ingest role; create a separate server key for the other roles",
    });
  }
  let rateLimit: KeyRateLimit | undefined;
  if (input.rateLimit !== undefined) {
    const parsed = parseKeyRateLimit(input.rateLimit);
    if (parsed.ok) rateLimit = parsed.value;
    else issues.push({ field: "--rate-limit", message: parsed.message });
  }
  return {
    options: {
      tenant,
      roles: [...new Set(roles)] as Role[],
      origins: [...new Set(origins)],
      ...(rateLimit === undefined ? {} : { rateLimit }),
      ...(input.name === undefined ? {} : { name: input.name }),
    },
    issues,
  };
}

/** Parses the CLI arguments; a ValidationError names each bad one. */
export function parseKeyArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): CreateKeyOptions & { json: boolean } {
  const { values, tenant, issues, stores } = readTenantCommandLine(
    argv,
    {
      roles: { type: "string" },
      origins: { type: "string", multiple: true },
      name: { type: "string" },
      "rate-limit": { type: "string" },
      json: { type: "boolean", default: false },
    },
    USAGE,
    env,
  );
  const checked = checkCreateKeyInput(
    tenant,
    {
      ...(values.roles === undefined ? {} : { roles: values.roles }),
      ...(values.origins === undefined ? {} : { origins: values.origins }),
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(values["rate-limit"] === undefined ? {} : { rateLimit: values["rate-limit"] }),
    },
    issues,
  );
  throwIfIssues(checked.issues, USAGE);
  return { ...checked.options, json: values.json, ...stores };
}

/** Creates the key and writes its hash (never the key) to Redis and, if configured, Postgres. */
export async function createApiKey(options: CreateKeyOptions): Promise<CreateKeyResult> {
  // A key created with origins is a browser (publishable) key; its record says so (see keyKindOf).
  const created = await generateApiKey({
    tenant: options.tenant,
    roles: options.roles,
    origins: options.origins,
  });
  const record =
    options.rateLimit === undefined
      ? created.record
      : { ...created.record, rateLimit: options.rateLimit };
  const wroteTo: string[] = [];

  // Postgres first: its constraints (tenant id, roles) are the stricter check, and a key that
  // exists only in Postgres authenticates nothing at the edge.
  if (options.databaseUrl) {
    await withPostgres(
      options.databaseUrl,
      "write the key to",
      async (client) => {
        await client.query(
          `INSERT INTO tenants (tenant_id, allowed_origins) VALUES ($1, $2::text[])
           ON CONFLICT (tenant_id) DO UPDATE SET allowed_origins =
             ARRAY(SELECT DISTINCT o FROM unnest(tenants.allowed_origins || EXCLUDED.allowed_origins) AS o ORDER BY o)`,
          [record.tenant, options.origins],
        );
        await client.query(
          `INSERT INTO api_keys (tenant_id, key_id, key_hash, roles, name, created_at)
           VALUES ($1, $2, $3, $4::text[], $5, $6)`,
          [
            record.tenant,
            record.keyId,
            record.keyHash,
            record.roles,
            options.name ?? null,
            record.createdAt,
          ],
        );
        await appendKeyAudit(client, {
          tenant: record.tenant,
          action: "api-key.create",
          target: `api-key:${record.keyId}`,
          before: null,
          after: {
            keyId: record.keyId,
            roles: record.roles,
            origins: options.origins,
            name: options.name ?? null,
            createdAt: record.createdAt,
          },
        });
      },
      { transaction: true },
    );
    wroteTo.push(`Postgres ${redactDatabaseUrl(options.databaseUrl)}`);
  }

  const indexEntry: TenantKeyEntry = {
    keyHash: record.keyHash,
    roles: record.roles,
    ...(options.name === undefined ? {} : { name: options.name }),
    createdAt: record.createdAt,
  };
  await withUpstash(options.redis, "write the key to", async (redis) => {
    // The record and the tenant's index entry together (MULTI/EXEC), so that every key the edge
    // accepts can also be found by its id.
    const tx = redis
      .multi()
      .set(apiKeyRedisKey(record.keyHash), record)
      .hset(tenantKeysRedisKey(record.tenant), { [record.keyId]: indexEntry });
    if (options.origins.length > 0) {
      tx.sadd(
        tenantOriginsRedisKey(record.tenant),
        options.origins[0]!,
        ...options.origins.slice(1),
      );
    }
    await tx.exec();
  });
  wroteTo.push(`Upstash Redis ${options.redis.url}`);
  return { key: created.key, record, origins: options.origins, wroteTo };
}

/**
 * Creates the key and prints it (what `npm run keys:create` and `driftline keys create` do): the
 * key alone on stdout, or JSON with `json`; the rest on stderr.
 */
export async function runCreateKey(parsed: CreateKeyOptions & { json: boolean }): Promise<void> {
  const options = await withLocalStackDatabase(
    parsed,
    "the key is stored in Redis only (set DATABASE_URL to also store it for the stream processor's read API).",
  );
  const result = await createApiKey(options);
  if (options.json) {
    const { key, record } = result;
    console.log(
      JSON.stringify({
        key,
        keyId: record.keyId,
        tenant: record.tenant,
        roles: record.roles,
        origins: result.origins,
        ...(record.rateLimit === undefined ? {} : { rateLimit: record.rateLimit }),
      }),
    );
    return;
  }
  // The key alone on stdout, so `KEY=$(npm run -s keys:create -- …)` works; the rest on stderr.
  console.log(result.key);
  console.error(
    `Created ${result.record.keyId} for tenant ${result.record.tenant} with role(s) ${result.record.roles.join(", ")}` +
      (result.origins.length > 0 ? `; allowed origins ${result.origins.join(", ")}` : "") +
      (result.record.rateLimit === undefined
        ? ""
        : `; ${result.record.rateLimit.requests} requests per ${result.record.rateLimit.windowSeconds} s`) +
      `.\nStored as a SHA-256 hash in ${result.wroteTo.join(" and ")}. The key is shown only now.`,
  );
}

async function main(): Promise<void> {
  await runCreateKey(parseKeyArgs(process.argv.slice(2)));
}

runIfMain(import.meta.url, main);
