/**
 * `npm run keys:create -- --tenant <id> --roles admin,score,ingest [--origins https://a.example]`:
 * creates an API key, stores its SHA-256 hash in Upstash Redis (and in Postgres `api_keys` when
 * DATABASE_URL is set, for the stream processor's read API) and prints the key once.
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "@upstash/redis";
import pg from "pg";
import {
  apiKeyRedisKey,
  generateApiKey,
  type NewApiKey,
  ROLES,
  type Role,
  tenantOriginsRedisKey,
} from "../src/auth/api-key";
import { normalizeOrigin } from "../src/auth/tenant-cors";
import { ConfigError, ValidationError } from "../src/core/errors";
import { IDENTIFIER_RULE, isIdentifier } from "../src/core/scoring/names";
import { redactDatabaseUrl } from "../stream-processor/db/database-url";
import { loadLocalStackConfig } from "./local/config";
import { postgresAnswers } from "./local/pglite-server";
import { localDatabaseUrl } from "./local/postgres";

export const USAGE = `Usage: npm run keys:create -- --tenant <id> --roles <role,…> [--origins <origin,…>] [--name <label>] [--json]

  --tenant   tenant id (${IDENTIFIER_RULE})
  --roles    comma-separated: ${ROLES.join(", ")}
  --origins  browser origins allowed to send events for the tenant (CORS), comma-separated or repeated
  --name     a label for the key, stored in Postgres
  --json     print { key, keyId, tenant, roles } as JSON instead of the bare key

Environment: UPSTASH_REDIS_REST_URL (default http://127.0.0.1:8079), UPSTASH_REDIS_REST_TOKEN
(default driftline-local-token), DATABASE_URL (also insert into Postgres api_keys; default: the local stack's database
when it answers).`;

export interface CreateKeyOptions {
  tenant: string;
  roles: Role[];
  origins: string[];
  name?: string;
  redis: { url: string; token: string };
  databaseUrl?: string;
}

export interface CreateKeyResult extends NewApiKey {
  origins: string[];
  wroteTo: string[];
}

function parseCli(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      tenant: { type: "string" },
      roles: { type: "string" },
      origins: { type: "string", multiple: true },
      name: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}

/** Parses the CLI arguments; a ValidationError names each bad one. */
export function parseKeyArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): CreateKeyOptions & { json: boolean } {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (err) {
    throw new ValidationError(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) throw new ValidationError(USAGE);
  const issues: { field: string; message: string }[] = [];
  const tenant = values.tenant ?? "";
  if (!isIdentifier(tenant))
    issues.push({ field: "--tenant", message: `must be ${IDENTIFIER_RULE}` });
  const roles = (values.roles ?? "")
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
  for (const raw of (values.origins ?? []).flatMap((o) => o.split(","))) {
    if (raw.trim() === "") continue;
    const origin = raw.trim() === "*" ? "*" : normalizeOrigin(raw.trim());
    if (origin === undefined) {
      issues.push({
        field: "--origins",
        message: `"${raw}" is not an http(s) origin like https://shop.example`,
      });
    } else origins.push(origin);
  }
  if (issues.length > 0) {
    throw new ValidationError(
      `${issues.map((i) => `${i.field} ${i.message}`).join("\n")}\n\n${USAGE}`,
      issues,
    );
  }
  return {
    tenant,
    roles: [...new Set(roles)] as Role[],
    origins: [...new Set(origins)],
    ...(values.name === undefined ? {} : { name: values.name }),
    json: values.json,
    redis: {
      url: env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${env.UPSTASH_REST_PORT ?? 8079}`,
      token: env.UPSTASH_REDIS_REST_TOKEN ?? "driftline-local-token",
    },
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
  };
}

/** Creates the key and writes its hash (never the key) to Redis and, if configured, Postgres. */
export async function createApiKey(options: CreateKeyOptions): Promise<CreateKeyResult> {
  const created = await generateApiKey({ tenant: options.tenant, roles: options.roles });
  const { record } = created;
  const wroteTo: string[] = [];

  // Postgres first: its constraints (tenant id, roles) are the stricter check, and a key that
  // exists only in Postgres authenticates nothing at the edge.
  if (options.databaseUrl) {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    try {
      await client.connect();
      await client.query("BEGIN");
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
      await client.query("COMMIT");
      wroteTo.push(`Postgres ${redactDatabaseUrl(options.databaseUrl)}`);
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw new ConfigError(
        `Could not write the key to Postgres at ${redactDatabaseUrl(options.databaseUrl)} (are the migrations applied? npm run migrate): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  const redis = new Redis({
    url: options.redis.url,
    token: options.redis.token,
    enableTelemetry: false,
    retry: { retries: 1, backoff: () => 200 },
  });
  try {
    await redis.set(apiKeyRedisKey(record.keyHash), record);
    if (options.origins.length > 0) {
      await redis.sadd(
        tenantOriginsRedisKey(record.tenant),
        options.origins[0]!,
        ...options.origins.slice(1),
      );
    }
  } catch (err) {
    throw new ConfigError(
      `Could not write the key to Upstash Redis at ${options.redis.url} (is the local stack up? npm start): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  wroteTo.push(`Upstash Redis ${options.redis.url}`);
  return { ...created, origins: options.origins, wroteTo };
}

/**
 * Without DATABASE_URL, the local stack's database (PGlite from `npm start`, or the configured
 * one) is used when it answers, so keys work for the stream processor's read API out of the box.
 */
async function withLocalStackDefaults<T extends CreateKeyOptions>(options: T): Promise<T> {
  if (options.databaseUrl !== undefined) return options;
  const config = loadLocalStackConfig();
  const databaseUrl = localDatabaseUrl(config);
  if (await postgresAnswers(databaseUrl)) return { ...options, databaseUrl };
  console.error(
    `No database answers at ${redactDatabaseUrl(databaseUrl)}; the key is stored in Redis only ` +
      "(set DATABASE_URL to also store it for the stream processor's read API).",
  );
  return options;
}

async function main(): Promise<void> {
  const options = await withLocalStackDefaults(parseKeyArgs(process.argv.slice(2)));
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
      }),
    );
    return;
  }
  // The key alone on stdout, so `KEY=$(npm run -s keys:create -- …)` works; the rest on stderr.
  console.log(result.key);
  console.error(
    `Created ${result.record.keyId} for tenant ${result.record.tenant} with role(s) ${result.record.roles.join(", ")}` +
      (result.origins.length > 0 ? `; allowed origins ${result.origins.join(", ")}` : "") +
      `.\nStored as a SHA-256 hash in ${result.wroteTo.join(" and ")}. The key is shown only now.`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
