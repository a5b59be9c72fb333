/** The machine's PostgreSQL as the local stack's database: one database per state dir, created on first use. */
import { createHash } from "node:crypto";
import pg from "pg";
import { redactDatabaseUrl } from "#core/config";
import { postgresAnswers } from "./pglite-server";

/** `driftline_<8 hex>`: the database a state dir uses on the machine's PostgreSQL. */
export function machineDatabaseName(stateDir: string): string {
  return `driftline_${createHash("sha256").update(stateDir).digest("hex").slice(0, 8)}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * The URL of this state dir's database on the machine's PostgreSQL (`serverUrl`, any database
 * on it), created if missing; undefined when that server does not answer (or is `off`).
 */
export async function machineDatabaseUrl(
  serverUrl: string,
  stateDir: string,
): Promise<string | undefined> {
  if (serverUrl === "off" || serverUrl === "") return undefined;
  if (!(await postgresAnswers(serverUrl, 1_500))) return undefined;
  const name = machineDatabaseName(stateDir);
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } catch (error) {
        // 42P04: created meanwhile by another start; 42501: no right to create databases.
        const code = (error as { code?: string }).code;
        if (code === "42501") return undefined;
        if (code !== "42P04") throw error;
      }
    }
    return withDatabase(serverUrl, name);
  } catch (error) {
    process.stderr.write(
      `the machine's PostgreSQL (${redactDatabaseUrl(serverUrl)}) answered but ${name} could not be prepared (${(error as Error).message}); using the embedded PGlite\n`,
    );
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Drops this state dir's database (only a `driftline_<hash>` of this state dir); true if dropped. */
export async function dropMachineDatabase(databaseUrl: string, stateDir: string): Promise<boolean> {
  const name = new URL(databaseUrl).pathname.replace(/^\//, "");
  if (name !== machineDatabaseName(stateDir)) return false;
  const client = new pg.Client({
    connectionString: withDatabase(databaseUrl, "postgres"),
    connectionTimeoutMillis: 2_000,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}
