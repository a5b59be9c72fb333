/** Builds the Neon serverless Pool (Postgres over WebSocket) for Neon or, through the local relay, any Postgres. */

import { Client, Pool, type PoolClient } from "@neondatabase/serverless";
import ws from "ws";
import { parseDatabaseUrl } from "#core/config";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import { withTransaction as inTransaction } from "#core/offsets";

export type { Pool, PoolClient };

export interface NeonPoolOptions {
  /** `postgres://user[:password]@host[:port]/database` (DATABASE_URL). */
  databaseUrl: string;
  /**
   * `ws://host:port` of a Neon-style WebSocket relay (scripts/local/neon-ws-relay.ts) for a
   * local or self-hosted Postgres. Omit for Neon, whose endpoints relay themselves over wss.
   */
  wsRelayUrl?: string;
  /**
   * Schema to use through search_path (set at connection start-up), for tests that run in a
   * fresh schema each. Lower-case identifier; the database's default when omitted.
   */
  schema?: string;
  /** Most connections open at once. Default 10; keep it small (2-4) against PGlite. */
  max?: number;
  /** Close a connection idle this long. Default 30 s. */
  idleTimeoutMs?: number;
  /** Give up opening a connection after this long. Default 10 s. */
  connectionTimeoutMs?: number;
  /**
   * Called when an idle pooled connection fails (database restarted, relay stopped). The pool
   * drops that connection and the next query opens a new one; without a handler the error
   * would crash the process, so the default writes one line to stderr.
   */
  onIdleClientError?: (error: Error) => void;
  /** Server-side limits every connection of the pool sets when it opens (0: none). */
  timeouts?: Partial<SessionTimeouts>;
}

/** Postgres session limits, ms: a stuck statement, lock wait or forgotten transaction ends. */
export interface SessionTimeouts {
  /** statement_timeout: one statement at most this long. */
  statementMs: number;
  /** lock_timeout: waiting for one lock at most this long. */
  lockMs: number;
  /** idle_in_transaction_session_timeout: a transaction left idle is ended after this long. */
  idleInTransactionMs: number;
}

/**
 * Generous for the processor's batch transactions and hourly rollups, short enough that a hung
 * client or a runaway query cannot hold locks or a connection for long.
 */
export const DEFAULT_SESSION_TIMEOUTS: SessionTimeouts = {
  statementMs: 120_000,
  lockMs: 30_000,
  idleInTransactionMs: 300_000,
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** What the driver needs to reach Postgres through a local relay instead of Neon's proxy. */
interface RelaySettings {
  wsProxy: (host: string, port: number | string) => string;
  useSecureWebSocket: boolean;
}

/**
 * A Pool of `@neondatabase/serverless` connections. With `wsRelayUrl` (local stack) every
 * connection goes through that relay in cleartext WebSocket frames, without the pipelining
 * that only Neon's proxy supports; without it, Neon's defaults apply.
 *
 * The driver's settings live on `neonConfig`, which is global unless set per connection. This
 * file sets them per connection (a Pool whose Client class applies them in its constructor),
 * so a local pool and a Neon pool can coexist in one process and nothing else in the codebase
 * touches `neonConfig`.
 */
export function createNeonPool(options: NeonPoolOptions): Pool {
  const url = parseDatabaseUrl(options.databaseUrl);
  const relay = options.wsRelayUrl === undefined ? undefined : relaySettings(options.wsRelayUrl);
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new ConfigError(
      `Invalid schema "${options.schema}": use lower-case letters, digits and _ (max 63), starting with a letter or _.`,
    );
  }

  class DriftlineNeonClient extends Client {
    constructor(config?: ConstructorParameters<typeof Client>[0]) {
      super(config);
      guardProtocolHandlers(this);
      const neon = this.neonConfig;
      // Node has a global WebSocket only from v22 (undici); `ws` works on every version.
      neon.webSocketConstructor = ws;
      if (relay !== undefined) {
        neon.wsProxy = relay.wsProxy;
        neon.useSecureWebSocket = relay.useSecureWebSocket;
        // Both pipelinings are Neon-proxy features: pipelineConnect sends a cleartext password
        // before the server asks (fails against SCRAM/trust), pipelineTLS expects Neon's TLS.
        neon.pipelineConnect = false;
        neon.pipelineTLS = false;
        // Coalescing waits a tick to merge writes into one frame: a saving over the internet,
        // ~1 ms lost per round trip on loopback.
        neon.coalesceWrites = false;
      }
    }
  }

  class DriftlineNeonPool extends Pool {
    // pg-pool builds each connection with `new this.Client(options)`.
    override Client = DriftlineNeonClient;
  }

  const pool = new DriftlineNeonPool({
    connectionString: url.toString(),
    max: options.max ?? 10,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  const timeouts = { ...DEFAULT_SESSION_TIMEOUTS, ...options.timeouts };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigError(`Invalid ${name} ${value}: a whole number of ms, 0 for no limit.`);
    }
  }
  // Set per session after connecting rather than as start-up options: Neon's connection pooler
  // (PgBouncer) refuses start-up parameters it does not track. The driver runs queries of one
  // connection in order, so these precede the first query of whoever takes the connection.
  const setTimeouts =
    `SET statement_timeout = ${timeouts.statementMs}; ` +
    `SET lock_timeout = ${timeouts.lockMs}; ` +
    `SET idle_in_transaction_session_timeout = ${timeouts.idleInTransactionMs}`;
  pool.on("connect", (client: PoolClient) => {
    client.query(setTimeouts).catch((error: unknown) => {
      process.stderr.write(
        `postgres pool: setting session timeouts failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    });
  });
  const onIdleClientError =
    options.onIdleClientError ??
    ((error: Error) =>
      process.stderr.write(`postgres pool: idle connection failed: ${error.message}\n`));
  pool.on("error", onIdleClientError);
  return pool;
}

/** Runs `fn` in one transaction on one pooled connection (see the core's `withTransaction`). */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction<PoolClient, T>(pool, fn);
}

/**
 * The driver's (pg's) handlers of the server's query-answer messages assume a query is in
 * flight: `this.activeQuery.handleRowDescription(msg)`. When a connection's protocol falls out
 * of step (a relay or embedded server that cut or mixed up the stream), `activeQuery` is null
 * and the TypeError is thrown inside the socket's message event, where no caller can catch it:
 * the process dies. Wrapped here, such a fault becomes what it is, a broken connection: the
 * connection emits `error`, its queries fail with a retryable error, the pool discards it and
 * the next query opens a new one. Nothing in the driver offers a hook for this (checked in
 * @neondatabase/serverless 1.2.0), hence the override of its private handler names.
 */
const QUERY_MESSAGE_HANDLERS = [
  "_handleRowDescription",
  "_handleDataRow",
  "_handlePortalSuspended",
  "_handleEmptyQuery",
  "_handleCommandComplete",
  "_handleParseComplete",
  "_handleCopyInResponse",
  "_handleCopyData",
] as const;

type ProtocolHandler = (message: unknown) => void;

/** Thrown into a connection whose protocol fell out of step; retryable like any lost connection. */
export class DatabaseProtocolFault extends DependencyUnavailableError {}

function guardProtocolHandlers(client: InstanceType<typeof Client>): void {
  const target = client as unknown as Record<string, ProtocolHandler | undefined> & {
    connection?: { emit(event: "error", error: Error): boolean };
  };
  for (const name of QUERY_MESSAGE_HANDLERS) {
    const original = target[name];
    if (typeof original !== "function") continue;
    target[name] = function guarded(this: unknown, message: unknown) {
      try {
        original.call(this, message);
      } catch (cause) {
        const what = name.replace(/^_handle/, "");
        target.connection?.emit(
          "error",
          new DatabaseProtocolFault(
            `Postgres connection out of step: ${what} arrived with no query in flight; the connection is dropped and the work retried.`,
            { cause },
          ),
        );
      }
    };
  }
}

function relaySettings(wsRelayUrl: string): RelaySettings {
  let url: URL;
  try {
    url = new URL(wsRelayUrl);
  } catch {
    throw new ConfigError(
      `The WebSocket relay URL "${wsRelayUrl}" is not a URL: expected ws://host:port.`,
    );
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ConfigError(
      `The WebSocket relay URL must start with ws:// or wss:// (got ${url.protocol}).`,
    );
  }
  // The driver prepends ws:// or wss:// itself; it wants host[:port] and path.
  const base = `${url.host}${url.pathname.replace(/\/+$/, "")}`;
  return {
    wsProxy: (host, port) => `${base}/v2?address=${host}:${port}`,
    useSecureWebSocket: url.protocol === "wss:",
  };
}
