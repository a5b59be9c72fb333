/**
 * What `keys:create`, `keys:revoke` and `keys:list` share: where the key stores are (environment
 * defaults, the local stack's database), their clients and error messages, the per-tenant key
 * index in Upstash Redis, and how a command line is read and a failure reported.
 */
import { userInfo } from "node:os";
import { pathToFileURL } from "node:url";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { Redis } from "@upstash/redis";
import pg from "pg";
import { type AuditEntryInput, auditInsertStatement } from "#core/audit";
import { redactDatabaseUrl } from "#core/config";
import { ConfigError, type FieldIssue, ValidationError } from "#core/errors";
import { IDENTIFIER_RULE, isIdentifier } from "#core/scoring";
import { forgottenSeparatorHint } from "./command-line";
import { loadLocalStackConfig } from "./local/config";
import { postgresAnswers } from "./local/pglite-server";
import { localDatabaseUrl } from "./local/postgres";

export interface KeyStoresConfig {
  redis: { url: string; token: string };
  databaseUrl?: string;
}

/** The `Environment:` paragraph of a usage text; `databaseUse` says what DATABASE_URL is for. */
export function environmentUsage(databaseUse: string): string {
  return `Environment:
  UPSTASH_REDIS_REST_URL    default http://127.0.0.1:8079
  UPSTASH_REDIS_REST_TOKEN  default: the local stack's (<state dir>/run/upstash-rest.token)
  DATABASE_URL              ${databaseUse}; default: the local stack's database when it answers`;
}

/** The stores as the environment names them, defaulting to the local stack's Upstash REST server. */
export function keyStoresFromEnv(env: NodeJS.ProcessEnv): KeyStoresConfig {
  return {
    redis: {
      url: env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${env.UPSTASH_REST_PORT ?? 8079}`,
      // The local stack's token lives in its state dir (a random one per stack).
      token: env.UPSTASH_REDIS_REST_TOKEN ?? loadLocalStackConfig(env).UPSTASH_REDIS_REST_TOKEN,
    },
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
  };
}

const HELP_OPTION = { help: { type: "boolean", short: "h", default: false } } as const;

/** What `readCommandLine` returns for `options`: parseArgs' typed values. */
type CommandLine<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & typeof HELP_OPTION;
    strict: true;
    allowPositionals: false;
  }>
>["values"];

/**
 * Reads a command line with node:util parseArgs: the given options plus `--help`/`-h`, no
 * positionals, unknown options refused. Its errors and `--help` become a ValidationError with the
 * usage.
 */
export function readCommandLine<const O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
  usage: string,
): CommandLine<O> {
  let values: { help?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { ...options, ...HELP_OPTION },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    const hint = forgottenSeparatorHint(`npm run ${process.env.npm_lifecycle_event ?? "keys"}`, {
      ...options,
    });
    throw new ValidationError(
      `${err instanceof Error ? err.message : String(err)}${hint ? `\n${hint}` : ""}\n\n${usage}`,
    );
  }
  if (values.help) {
    process.stdout.write(`${usage.trim()}\n`);
    process.exit(0);
  }
  return values as CommandLine<O>;
}

const TENANT_OPTION = { tenant: { type: "string" } } as const;

/**
 * Reads a keys command line: `--tenant` plus `options` (as `readCommandLine`), the tenant's
 * issues so far, and the key stores `env` names. The caller adds its own issues and then calls
 * `throwIfIssues`.
 */
export function readTenantCommandLine<const O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
  usage: string,
  env: NodeJS.ProcessEnv,
): {
  values: CommandLine<typeof TENANT_OPTION & O>;
  tenant: string;
  issues: FieldIssue[];
  stores: KeyStoresConfig;
} {
  const values = readCommandLine(argv, { ...TENANT_OPTION, ...options }, usage);
  const tenant = (values as { tenant?: string }).tenant ?? "";
  return { values, tenant, issues: tenantIssues(tenant), stores: keyStoresFromEnv(env) };
}

/** The issue a bad `--tenant` makes, if any (the tenants table's rule). */
export function tenantIssues(tenant: string): FieldIssue[] {
  return isIdentifier(tenant) ? [] : [{ field: "--tenant", message: `must be ${IDENTIFIER_RULE}` }];
}

/** One ValidationError naming every bad argument, followed by the usage. */
export function throwIfIssues(issues: FieldIssue[], usage: string): void {
  if (issues.length === 0) return;
  throw new ValidationError(
    `${issues.map((i) => `${i.field} ${i.message}`).join("\n")}\n\n${usage}`,
    issues,
  );
}

/**
 * Without DATABASE_URL, the local stack's database (PGlite from `npm start`, or the configured
 * one) is used when it answers, so keys work for the stream processor's read API out of the box.
 * `withoutDatabase` completes "No database answers at <url>; …" when none does.
 */
export async function withLocalStackDatabase<T extends KeyStoresConfig>(
  options: T,
  withoutDatabase: string,
): Promise<T> {
  if (options.databaseUrl !== undefined) return options;
  const databaseUrl = localDatabaseUrl(loadLocalStackConfig());
  if (await postgresAnswers(databaseUrl)) return { ...options, databaseUrl };
  console.error(`No database answers at ${redactDatabaseUrl(databaseUrl)}; ${withoutDatabase}`);
  return options;
}

export function upstashClient(redis: KeyStoresConfig["redis"]): Redis {
  return new Redis({
    url: redis.url,
    token: redis.token,
    enableTelemetry: false,
    retry: { retries: 1, backoff: () => 200 },
  });
}

/** Runs `work` against Upstash Redis; a failure names the server and how to start the local one. */
export async function withUpstash<T>(
  redis: KeyStoresConfig["redis"],
  doing: string,
  work: (client: Redis) => Promise<T>,
): Promise<T> {
  try {
    return await work(upstashClient(redis));
  } catch (err) {
    throw new ConfigError(
      `Could not ${doing} Upstash Redis at ${redis.url} (is the local stack up? npm start): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * Runs `work` on one Postgres connection, in a transaction when `transaction` is set (rolled
 * back on failure); a failure names the (redacted) database and the usual cause.
 */
export async function withPostgres<T>(
  databaseUrl: string,
  doing: string,
  work: (client: pg.Client) => Promise<T>,
  { transaction = false }: { transaction?: boolean } = {},
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    if (transaction) await client.query("BEGIN");
    const result = await work(client);
    if (transaction) await client.query("COMMIT");
    return result;
  } catch (err) {
    if (transaction) await client.query("ROLLBACK").catch(() => undefined);
    throw new ConfigError(
      `Could not ${doing} Postgres at ${redactDatabaseUrl(databaseUrl)} (are the migrations applied? npm run migrate): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

// The per-tenant key index is shared with the Worker's key admin routes.
export { type TenantKeyEntry, TenantKeyEntrySchema, tenantKeysRedisKey } from "#core/api-keys";

/** Runs `main` when the file is the process's entry point; a failure prints its message and exits 1. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}

/** The operator running a keys command, as the audit log names them (DRIFTLINE_OPERATOR or the OS user). */
export function operatorName(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DRIFTLINE_OPERATOR) return env.DRIFTLINE_OPERATOR.slice(0, 128);
  try {
    return userInfo().username || "operator";
  } catch {
    return "operator";
  }
}

/**
 * Appends the audit entry of a keys command on `client`, inside the transaction that makes the
 * change, so the change and its entry commit together or not at all.
 */
export async function appendKeyAudit(
  client: pg.Client,
  entry: Omit<AuditEntryInput, "actor" | "requestId">,
): Promise<void> {
  const { text, values } = auditInsertStatement({
    ...entry,
    actor: { kind: "operator", name: operatorName() },
    // One id per command run, so the entry can be matched with the command's output.
    requestId: `cli-${crypto.randomUUID()}`,
  });
  await client.query(text, values);
}
