/** Checks and prints Postgres connection URLs (DATABASE_URL) without leaking passwords. */
import { ConfigError } from "../errors.ts";

const DEFAULT_POSTGRES_PORT = 5432;

/** The URL parsed; a ConfigError naming `envName` unless it is postgres://…@host… */
export function parseDatabaseUrl(databaseUrl: string, envName = "DATABASE_URL"): URL {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new ConfigError(
      `${envName} is not a URL: expected postgres://user[:password]@host[:port]/database.`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(
      `${envName} must start with postgres:// or postgresql:// (got ${url.protocol}//…).`,
    );
  }
  if (url.hostname === "") {
    throw new ConfigError(`${envName} has no host: expected postgres://user@host:port/database.`);
  }
  return url;
}

/** `host:port` the URL points at (port 5432 when not given), IPv6 hosts without brackets. */
export function databaseTarget(databaseUrl: string, envName = "DATABASE_URL"): string {
  const url = parseDatabaseUrl(databaseUrl, envName);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return `${host}:${url.port === "" ? DEFAULT_POSTGRES_PORT : url.port}`;
}

/** The URL with its password replaced by ***, for messages and logs. */
export function redactDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    return "(not a URL)";
  }
}
