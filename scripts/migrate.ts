/** Applies the SQL migrations in `migrations/` to a Postgres database with node-pg-migrate. */
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { runner } from "node-pg-migrate";
import { parseDatabaseUrl, redactDatabaseUrl } from "#core/config";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import { parseCommandLine } from "./command-line";
import { loadLocalStackConfig } from "./local/config";
import { pgliteDatabaseUrl } from "./local/pglite-server";

export const MIGRATIONS_DIR = resolve(import.meta.dirname, "../migrations");
/** node-pg-migrate's bookkeeping table, created in the migrated schema. */
export const MIGRATIONS_TABLE = "pgmigrations";

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface MigrateOptions {
  /** A `postgres://` URL reached over TCP (local Postgres, PGlite's socket, or Neon directly). */
  databaseUrl: string;
  /**
   * Schema to create (if missing) and migrate into, via search_path; the database's default
   * (public) when omitted. Lower-case identifier, so it never needs quoting elsewhere.
   */
  schema?: string;
  /** Progress lines; silent when omitted. */
  log?: (line: string) => void;
}

export interface MigrateResult {
  /** Names of the migrations this run applied, oldest first; empty when already up to date. */
  applied: string[];
}

/**
 * Applies every pending migration in one transaction (all or nothing). Running it again is a
 * no-op: node-pg-migrate skips files recorded in `pgmigrations`. Concurrent runs wait for each
 * other on node-pg-migrate's advisory lock instead of failing.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  parseDatabaseUrl(options.databaseUrl);
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new ConfigError(
      `Invalid schema name "${options.schema}": use lower-case letters, digits and _ (max 63), starting with a letter or _.`,
    );
  }
  const log = options.log ?? (() => {});
  try {
    const ran = await runner({
      databaseUrl: options.databaseUrl,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: "up",
      // Only *.sql files, never dot-files (an editor's swap file, a README): anchored by the tool.
      ignorePattern: "(?:(?!.*\\.sql$).*|\\..*)",
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: "wait",
      ...(options.schema === undefined ? {} : { schema: options.schema, createSchema: true }),
      log,
    });
    return { applied: ran.map((m) => m.name) };
  } catch (error) {
    throw describeMigrationError(error, options.databaseUrl);
  }
}

/** Names of the migrations in `migrations/` (file names without `.sql`), in the order they apply. */
export function listMigrations(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((name) => name.endsWith(".sql") && !name.startsWith("."))
    .map((name) => name.slice(0, -".sql".length))
    .sort((a, b) => Number(a.split("_")[0]) - Number(b.split("_")[0]) || a.localeCompare(b));
}

const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "ETIMEDOUT",
  "ECONNRESET",
  "EAI_AGAIN",
]);

function describeMigrationError(error: unknown, databaseUrl: string): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && (CONNECTION_ERROR_CODES.has(code) || code.startsWith("08"))) {
    return new DependencyUnavailableError(
      `Cannot reach the database at ${redactDatabaseUrl(databaseUrl)} (${code}: ${message}). ` +
        "Start it (npm run services:up) or fix DATABASE_URL.",
      { cause: error },
    );
  }
  if (error instanceof Error) return error;
  return new Error(message);
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    command: "npm run migrate",
    usage:
      "Usage: npm run migrate [-- --schema <name>] [--database-url <url>]\n\n" +
      "Applies migrations/ to --database-url, else DATABASE_URL, else the local stack's database\n" +
      "(the one npm start chose: the machine's PostgreSQL or the embedded PGlite on PGLITE_PORT).\n" +
      "Forward-only and idempotent: applied migrations are skipped.",
    options: {
      schema: { type: "string" },
      "database-url": { type: "string" },
    },
  });
  const config = loadLocalStackConfig();
  const databaseUrl =
    values["database-url"] ?? config.DATABASE_URL ?? pgliteDatabaseUrl(config.PGLITE_PORT);
  const result = await migrate({
    databaseUrl,
    ...(values.schema === undefined ? {} : { schema: values.schema }),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const where = `${redactDatabaseUrl(databaseUrl)}${values.schema ? ` (schema ${values.schema})` : ""}`;
  process.stdout.write(
    result.applied.length === 0
      ? `Database ${where} is up to date.\n`
      : `Applied ${result.applied.length} migration(s) to ${where}.\n`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `migrate failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}
