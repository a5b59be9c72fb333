/** Embedded Postgres (PGlite, on disk) served on the wire protocol: the default database of a local stack. */
// Limits, and why this file has its own connection scheduling:
// * PGlite is ONE Postgres backend in WASM: every client connection shares one session, so
//   queries run one at a time, and session state (SET, search_path, prepared statement names,
//   temp tables, advisory locks) is shared by all connections. Good for a zero-setup demo and
//   tests, not for load tests: use a real Postgres through DATABASE_URL for those.
// * pglite-socket's PGLiteSocketServer defaults to maxConnections = 1 (a second client is
//   refused) and, with more, schedules frontend messages one by one across connections. That
//   interleaves extended-protocol batches (Parse/Bind/Execute/Sync) of two connections, so one
//   binds the other's unnamed statement ("unnamed prepared statement does not exist", or wrong
//   rows), and a failed message stalls its queue for good (electric-sql/pglite#1046, open in
//   0.2.17). We keep its per-connection handler (message framing, SSL refusal) and replace
//   the queue: a connection owns the session from its first message until Postgres reports
//   ReadyForQuery "idle", i.e. for a whole extended-protocol batch or a whole transaction.
// * So a connection that opens a transaction and leaves it idle (a psql session after BEGIN)
//   would hold every other connection, the whole platform, until it commits. Once another
//   connection has waited IDLE_OWNER_TIMEOUT_MS for it, the idle owner is closed with a FATAL
//   error that names what to use instead, and its transaction is rolled back. A connection that
//   still waits LOCK_WAIT_TIMEOUT_MS (an owner busy with one long statement) is closed itself.
// * Memory: a booted PGlite holds ~300-800 MB RSS. First boot of a data dir runs initdb (~3-4 s).
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join, resolve } from "node:path";
import type { PGLiteSocketHandler, PGLiteSocketHandlerOptions } from "@electric-sql/pglite-socket";
import pg from "pg";
import { type LocalStackConfig, loadLocalStackConfig } from "./config";
import { IDLE_OWNER_TIMEOUT_MS, PgliteSessionScheduler } from "./pglite-session-scheduler";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const SERVICE_NAME = "pglite";
/** Enough for the demo's processes (API, stream processor, CLI) each with a pool of 2-4. */
const DEFAULT_MAX_CONNECTIONS = 32;
/** How long a connection may wait for another connection's batch or transaction. */
const LOCK_WAIT_TIMEOUT_MS = 30_000;
/** First boot runs initdb inside WASM; slow on a busy 2-core machine. */
const READY_TIMEOUT_MS = 60_000;

export interface PgliteServerOptions {
  /** Where PGlite keeps its files; created if missing. */
  dataDir: string;
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  maxConnections?: number;
  lockWaitTimeoutMs?: number;
  idleOwnerTimeoutMs?: number;
  /** Named in the message a preempted idle connection gets: where interactive sessions belong. */
  interactiveHint?: string;
  log?: (line: string) => void;
}

export interface PgliteServer {
  /** `postgres://postgres@host:port/postgres`. */
  readonly databaseUrl: string;
  readonly port: number;
  /** Time to open (or initdb) the data dir, in ms. */
  readonly bootMs: number;
  openConnections(): number;
  close(): Promise<void>;
}

/** PGlite's only role is `postgres` and its database `postgres`; it accepts any password. */
export function pgliteDatabaseUrl(port: number, host = "127.0.0.1"): string {
  return `postgres://postgres@${host}:${port}/postgres`;
}

export function pgliteDataDir(config: LocalStackConfig): string {
  return join(config.DRIFTLINE_STATE_DIR, "pglite");
}

/** Opens (or initialises) the data dir and serves it on `host:port`. */
export async function startPgliteServer(options: PgliteServerOptions): Promise<PgliteServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  mkdirSync(options.dataDir, { recursive: true });
  const started = performance.now();
  // Loaded here, not at the top: every local-stack command imports this file for pgliteService,
  // and only the daemon needs PGlite's code in memory.
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketHandler } = await import("@electric-sql/pglite-socket");
  const db = await PGlite.create({ dataDir: options.dataDir });
  const bootMs = performance.now() - started;
  const scheduler = new PgliteSessionScheduler(
    db,
    options.lockWaitTimeoutMs ?? LOCK_WAIT_TIMEOUT_MS,
    log,
    options.idleOwnerTimeoutMs ?? IDLE_OWNER_TIMEOUT_MS,
    options.interactiveHint ?? "",
  );
  const handlers = new Set<PGLiteSocketHandler>();
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  const server: Server = createServer((socket) => {
    if (handlers.size >= maxConnections) {
      log(`refusing a connection: ${maxConnections} already open (maxConnections)`);
      socket.end();
      return;
    }
    const handler = new PGLiteSocketHandler({
      // The handler only calls enqueue / clearQueueForHandler / clearTransactionIfNeeded; the
      // type names pglite-socket's own (unexported) queue class.
      queryQueue: scheduler as unknown as PGLiteSocketHandlerOptions["queryQueue"],
      closeOnDetach: true,
    });
    handlers.add(handler);
    scheduler.register(handler.handlerId, {
      closeWith(bytes) {
        socket.write(bytes, () => void handler.detach(true));
      },
    });
    const forget = () => handlers.delete(handler);
    handler.addEventListener("close", forget);
    handler.addEventListener("error", forget);
    handler.attach(socket).catch((error: unknown) => {
      log(`attaching a connection failed: ${String(error)}`);
      forget();
      socket.destroy();
    });
  });

  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen(options.port, host, () => {
        server.off("error", reject);
        resolveListen();
      });
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;

  return {
    databaseUrl: pgliteDatabaseUrl(port, host),
    port,
    bootMs,
    openConnections: () => handlers.size,
    async close() {
      const closing = new Promise<void>((done) => server.close(() => done()));
      await Promise.all([...handlers].map((h) => h.detach(true)));
      await closing;
      await db.close();
    },
  };
}

/** True when a Postgres server answers `SELECT 1` at `databaseUrl` within `timeoutMs`. */
export async function postgresAnswers(databaseUrl: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: timeoutMs,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** PGlite as a detached daemon on PGLITE_PORT with its data under DRIFTLINE_STATE_DIR/pglite. */
export function pgliteService(config: LocalStackConfig): LocalService {
  const stateDir = config.DRIFTLINE_STATE_DIR;
  const databaseUrl = pgliteDatabaseUrl(config.PGLITE_PORT);
  return daemonService({
    name: SERVICE_NAME,
    label: `PGlite on 127.0.0.1:${config.PGLITE_PORT}`,
    port: { number: config.PGLITE_PORT, variable: "PGLITE_PORT" },
    url: databaseUrl,
    stateDir,
    isReady: () => postgresAnswers(databaseUrl),
    // The daemon finds its data dir (pgliteDataDir) under this state dir.
    spawn: () =>
      tsxDaemon(import.meta.filename, {
        env: { DRIFTLINE_STATE_DIR: stateDir, PGLITE_PORT: String(config.PGLITE_PORT) },
      }),
    readyTimeoutMs: READY_TIMEOUT_MS,
    readyIntervalMs: 200,
    // PGlite flushes its data dir on close: give it time before SIGKILL.
    stopGraceMs: 15_000,
    hint: `Is port ${config.PGLITE_PORT} taken by another program? Set PGLITE_PORT.`,
  });
}

/** Daemon entry: `npx tsx scripts/local/pglite-server.ts`. */
async function main(): Promise<void> {
  const config = loadLocalStackConfig();
  const stamp = () => new Date().toISOString();
  const print = (line: string) => process.stdout.write(`${stamp()} ${line}\n`);
  const dataDir = pgliteDataDir(config);
  const server = await startPgliteServer({
    dataDir,
    port: config.PGLITE_PORT,
    log: print,
    interactiveHint:
      "for interactive sessions run the stack on the machine's PostgreSQL (npm start uses it when it answers on 127.0.0.1:5432; MACHINE_POSTGRES_URL) or on DATABASE_URL",
  });
  print(
    `PGlite (${dataDir}) opened in ${Math.round(server.bootMs)} ms, serving ${server.databaseUrl}`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        print(`closing PGlite failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `pglite-server: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
