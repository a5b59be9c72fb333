/** A Neon serverless Pool for one request (Workers may not keep connections between requests). */
import { Client, Pool, type PoolClient } from "@neondatabase/serverless";
import { ConfigError } from "#core/errors";

export interface NeonReadStoreOptions {
  /** `postgres://…` (the DATABASE_URL secret). */
  databaseUrl: string;
  /** `ws://host:port` of the local WebSocket relay; omit for Neon (wss to the endpoint itself). */
  wsRelayUrl?: string;
  /** Connections one request may open; the metrics read runs its statements concurrently. */
  maxConnections?: number;
}

const SESSION_SETTINGS = "SET jit = off; SET statement_timeout = 10000";

/**
 * A Pool whose connections carry their own driver settings: with a relay (local stack) every
 * connection speaks cleartext WebSocket frames to it without Neon-proxy pipelining; without,
 * Neon's defaults apply. Nothing here touches the global `neonConfig`.
 */
export function createRequestPool(options: NeonReadStoreOptions): Pool {
  const relay = options.wsRelayUrl === undefined ? undefined : relayBase(options.wsRelayUrl);

  class ReadClient extends Client {
    constructor(config?: ConstructorParameters<typeof Client>[0]) {
      super(config);
      if (relay === undefined) return;
      const neon = this.neonConfig;
      neon.wsProxy = (host, port) => `${relay.base}/v2?address=${host}:${port}`;
      neon.useSecureWebSocket = relay.secure;
      // Both pipelinings are Neon-proxy features: pipelineConnect sends a cleartext password
      // before the server asks, pipelineTLS expects Neon's TLS.
      neon.pipelineConnect = false;
      neon.pipelineTLS = false;
      // Coalescing waits a tick to merge writes: a saving over the internet, a loss on loopback.
      neon.coalesceWrites = false;
    }
  }

  class ReadPool extends Pool {
    // pg-pool builds each connection with `new this.Client(options)`.
    override Client = ReadClient;
  }

  const pool = new ReadPool({
    connectionString: options.databaseUrl,
    max: options.maxConnections ?? 2,
    connectionTimeoutMillis: 10_000,
  });
  // Per session, set once each connection opens (Neon's pooler refuses start-up options): reads
  // are short index walks, and JIT compilation, triggered by the planner's cost estimate of
  // LIMITed nested loops, cost ~50 ms per query on them; a runaway read ends after 10 s.
  pool.on("connect", (client: PoolClient) => {
    client.query(SESSION_SETTINGS).catch(() => undefined);
  });
  // An idle connection that drops (the pool ending, the relay or Neon closing it) is discarded by
  // the pool; without a listener the event would surface as an uncaught error in the isolate.
  pool.on("error", () => undefined);
  return pool;
}

function relayBase(wsRelayUrl: string): { base: string; secure: boolean } {
  let url: URL;
  try {
    url = new URL(wsRelayUrl);
  } catch {
    throw new ConfigError(
      `NEON_WS_RELAY_URL "${wsRelayUrl}" is not a URL: expected ws://host:port.`,
    );
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ConfigError(
      `NEON_WS_RELAY_URL must start with ws:// or wss:// (got ${url.protocol}).`,
    );
  }
  // The driver prepends ws:// or wss:// itself; it wants host[:port] and path.
  return {
    base: `${url.host}${url.pathname.replace(/\/+$/, "")}`,
    secure: url.protocol === "wss:",
  };
}
