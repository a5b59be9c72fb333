/** The Neon serverless Pool (Postgres over WebSocket) for Neon or, through the local relay, any Postgres. */

import { Client, Pool, type PoolClient } from "@neondatabase/serverless";
import ws from "ws";
import { parseDatabaseUrl } from "#core/config";
import { ConfigError } from "#core/errors";
import { withTransaction as inTransaction } from "#core/offsets";

export type { Pool, PoolClient };

export interface PoolOptions {
  databaseUrl: string;
  /** `ws://host:port` of the local Neon-style relay; omit for Neon. */
  wsRelayUrl?: string;
  /** search_path, for tests in a schema of their own. */
  schema?: string;
  max?: number;
}

/**
 * Settings are applied per connection (a Client subclass), as the stream processor does, so that
 * nothing global (`neonConfig`) is touched. Statement and idle-transaction limits are generous
 * for training-set reads and short enough that a hung client frees its locks.
 */
export function createPool(options: PoolOptions): Pool {
  const url = parseDatabaseUrl(options.databaseUrl);
  let relayBase: string | undefined;
  let secure = true;
  if (options.wsRelayUrl !== undefined) {
    let relay: URL;
    try {
      relay = new URL(options.wsRelayUrl);
    } catch {
      throw new ConfigError(
        `NEON_WS_RELAY_URL "${options.wsRelayUrl}" is not a ws://host:port URL.`,
      );
    }
    relayBase = `${relay.host}${relay.pathname.replace(/\/+$/, "")}`;
    secure = relay.protocol === "wss:";
  }
  class RetrainingNeonClient extends Client {
    constructor(config?: ConstructorParameters<typeof Client>[0]) {
      super(config);
      const neon = this.neonConfig;
      neon.webSocketConstructor = ws;
      if (relayBase !== undefined) {
        const base = relayBase;
        neon.wsProxy = (host, port) => `${base}/v2?address=${host}:${port}`;
        neon.useSecureWebSocket = secure;
        neon.pipelineConnect = false;
        neon.pipelineTLS = false;
        neon.coalesceWrites = false;
      }
    }
  }
  class RetrainingNeonPool extends Pool {
    override Client = RetrainingNeonClient;
  }
  const pool = new RetrainingNeonPool({
    connectionString: url.toString(),
    max: options.max ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  pool.on("connect", (client: PoolClient) => {
    client
      .query("SET statement_timeout = 300000; SET idle_in_transaction_session_timeout = 300000")
      .catch(() => {});
  });
  pool.on("error", (error: Error) =>
    process.stderr.write(`postgres pool: idle connection failed: ${error.message}\n`),
  );
  return pool;
}

/** Runs `fn` in one transaction on one pooled connection (see the core's `withTransaction`). */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction<PoolClient, T>(pool, fn);
}
