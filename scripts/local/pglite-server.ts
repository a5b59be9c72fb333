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
import type { PGlite } from "@electric-sql/pglite";
import type { PGLiteSocketHandler, PGLiteSocketHandlerOptions } from "@electric-sql/pglite-socket";
import pg from "pg";
import { type LocalStackConfig, loadLocalStackConfig } from "./config";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const SERVICE_NAME = "pglite";
/** Enough for the demo's processes (API, stream processor, CLI) each with a pool of 2-4. */
const DEFAULT_MAX_CONNECTIONS = 32;
/** How long a connection may wait for another connection's batch or transaction. */
const LOCK_WAIT_TIMEOUT_MS = 30_000;
/** How long others wait for a connection idle in a transaction before it is closed. */
const IDLE_OWNER_TIMEOUT_MS = 5_000;
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

// Frontend message types after which a backend answers with ReadyForQuery: Sync, Query,
// FunctionCall, CopyDone, CopyFail. A start-up packet has no type byte; its first byte is the
// high byte of its length, 0 for any real start-up packet.
const ENDS_WITH_READY = new Set([0x53, 0x51, 0x46, 0x63, 0x66, 0x00]);
/** ReadyForQuery with status "I" (idle, not in a transaction): 'Z', int32 5, 'I'. */
const READY_IDLE = [0x5a, 0x00, 0x00, 0x00, 0x05, 0x49];
const SYNC_MESSAGE = new Uint8Array([0x53, 0x00, 0x00, 0x00, 0x04]);
const TERMINATE = 0x58;
const PARSE = 0x50;
const BIND = 0x42;
const DESCRIBE = 0x44;
const CLOSE = 0x43;
const STATEMENT = 0x53;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/**
 * Byte range [start, end) of the prepared-statement name in a Parse, Bind, Describe('S') or
 * Close('S') message (type byte, int32 length, then NUL-terminated strings), or undefined for
 * other messages and for the unnamed statement.
 */
function locateStatementName(message: Uint8Array): [number, number] | undefined {
  let start: number;
  switch (message[0]) {
    case PARSE:
      start = 5;
      break;
    case BIND:
      // The portal name comes first.
      start = message.indexOf(0, 5) + 1;
      break;
    case DESCRIBE:
    case CLOSE:
      if (message[5] !== STATEMENT) return undefined;
      start = 6;
      break;
    default:
      return undefined;
  }
  const end = message.indexOf(0, start);
  return start > 0 && end > start ? [start, end] : undefined;
}

/** The message with bytes [start, end) replaced and its length field updated. */
function replaceBytes(
  message: Uint8Array,
  start: number,
  end: number,
  bytes: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(message.length - (end - start) + bytes.length);
  out.set(message.subarray(0, start), 0);
  out.set(bytes, start);
  out.set(message.subarray(end), start + bytes.length);
  new DataView(out.buffer).setInt32(1, out.length - 1);
  return out;
}

/** Close('S', name) */
function closeStatementMessage(name: string): Uint8Array {
  const nameBytes = ENCODER.encode(name);
  const out = new Uint8Array(1 + 4 + 1 + nameBytes.length + 1);
  out[0] = CLOSE;
  new DataView(out.buffer).setInt32(1, out.length - 1);
  out[5] = STATEMENT;
  out.set(nameBytes, 6);
  return out;
}

/** A FATAL ErrorResponse (SQLSTATE 25P03, idle_in_transaction_session_timeout) with `message`. */
function fatalErrorMessage(message: string): Uint8Array {
  const fields = [
    ["S", "FATAL"],
    ["V", "FATAL"],
    ["C", "25P03"],
    ["M", message],
  ];
  const body = fields.flatMap(([code, value]) => [
    code!.charCodeAt(0),
    ...ENCODER.encode(value),
    0,
  ]);
  const out = new Uint8Array(1 + 4 + body.length + 1);
  out[0] = 0x45; // 'E'
  new DataView(out.buffer).setInt32(1, out.length - 1);
  out.set(body, 5);
  return out;
}

/** How the scheduler can end a connection it must preempt. */
export interface SessionConnection {
  /** Sends `bytes` to the client, then closes the connection. */
  closeWith(bytes: Uint8Array): void;
}

interface Waiter {
  handlerId: number;
  grant: () => void;
  reject: (error: Error) => void;
}

/**
 * Gives one connection at a time the PGlite session, from its first message until Postgres
 * answers ReadyForQuery "idle". Messages of one connection run in arrival order. Implements the
 * interface pglite-socket's handler calls (enqueue / clearQueueForHandler /
 * clearTransactionIfNeeded).
 */
class PgliteSessionScheduler {
  private owner: number | undefined;
  private readonly waiters: Waiter[] = [];
  /** Per connection, the promise of its last message, so its messages run in order. */
  private readonly tails = new Map<number, Promise<unknown>>();
  private readonly closed = new Set<number>();
  /** Per connection, the (scoped) names of the prepared statements it created. */
  private readonly statements = new Map<number, Set<string>>();
  private readonly connections = new Map<number, SessionConnection>();
  /** Connections with a message running in PGlite right now (not idle). */
  private readonly executing = new Set<number>();
  private ownerSince = 0;

  constructor(
    private readonly db: PGlite,
    private readonly lockWaitTimeoutMs: number,
    private readonly log: (line: string) => void,
    private readonly idleOwnerTimeoutMs: number = IDLE_OWNER_TIMEOUT_MS,
    private readonly interactiveHint: string = "",
  ) {}

  register(handlerId: number, connection: SessionConnection): void {
    this.connections.set(handlerId, connection);
  }

  /**
   * Closes the owner if it sits idle in a transaction while `waiterId` waits: the session is
   * shared, so an idle transaction of one connection (typically a person's psql after BEGIN)
   * would stall every Driftline process.
   */
  private preemptIdleOwner(waiterId: number): void {
    const owner = this.owner;
    if (owner === undefined || owner === waiterId || this.executing.has(owner)) return;
    if (!this.db.isInTransaction()) return;
    const heldMs = Date.now() - this.ownerSince;
    const message =
      `Driftline's embedded Postgres (PGlite) runs every connection in one shared session, and this ` +
      `connection kept a transaction open for ${Math.round(heldMs / 1000)} s while others waited, so it was closed ` +
      `and its transaction rolled back. Keep transactions short here (psql: autocommit, no BEGIN)` +
      `${this.interactiveHint ? `, or ${this.interactiveHint}` : ""}.`;
    this.log(`connection #${owner} idle in a transaction while #${waiterId} waited: closing it`);
    this.connections.get(owner)?.closeWith(fatalErrorMessage(message));
  }

  enqueue(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    const previous = this.tails.get(handlerId) ?? Promise.resolve();
    const run = previous.then(
      () => this.execute(handlerId, message, onData),
      () => this.execute(handlerId, message, onData),
    );
    this.tails.set(
      handlerId,
      run.catch(() => undefined),
    );
    return run;
  }

  clearQueueForHandler(handlerId: number): void {
    this.closed.add(handlerId);
    this.connections.delete(handlerId);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.handlerId === handlerId) {
        this.waiters.splice(i, 1);
        waiter.reject(new Error("connection closed"));
      }
    }
  }

  /** Called when a connection goes away: undo what it left open, then pass the session on. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    this.closed.add(handlerId);
    await this.tails.get(handlerId);
    this.tails.delete(handlerId);
    const statements = this.statements.get(handlerId) ?? new Set<string>();
    this.statements.delete(handlerId);
    try {
      if (this.owner !== handlerId && statements.size === 0) return;
      await this.acquire(handlerId);
      try {
        // Ends an unfinished extended-protocol batch (Postgres skips to the next Sync), rolls
        // back a transaction the connection left open, and drops its prepared statements.
        await this.db.runExclusive(async () => {
          await this.db.execProtocolRaw(SYNC_MESSAGE);
          for (const name of statements) await this.db.execProtocolRaw(closeStatementMessage(name));
          if (statements.size > 0) await this.db.execProtocolRaw(SYNC_MESSAGE);
        });
        if (this.db.isInTransaction()) await this.db.exec("ROLLBACK");
      } finally {
        this.release(handlerId);
      }
    } catch (error) {
      this.log(`cleaning up after connection #${handlerId}: ${String(error)}`);
    } finally {
      this.closed.delete(handlerId);
    }
  }

  private async execute(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    if (this.closed.has(handlerId)) throw new Error("connection closed");
    if (message[0] === TERMINATE) {
      // Postgres closes the connection on Terminate, and clients rely on it: pg's
      // Connection.end() only ends the socket from a write callback that the Neon driver's
      // WebSocket shim never calls. PGlite must not see it (its one backend would stay). The
      // rejection makes pglite-socket's handler close the socket, and clearTransactionIfNeeded
      // then passes the session on.
      throw new Error("Terminate received");
    }
    await this.acquire(handlerId);
    const scoped = this.scopeStatementName(handlerId, message);
    let bytes = 0;
    const tail: number[] = [];
    this.executing.add(handlerId);
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(scoped, {
          onRawData: (chunk) => {
            bytes += chunk.length;
            for (const byte of chunk.subarray(Math.max(0, chunk.length - READY_IDLE.length))) {
              tail.push(byte);
            }
            tail.splice(0, Math.max(0, tail.length - READY_IDLE.length));
            onData(chunk);
          },
        }),
      );
    } catch (error) {
      // A failure of PGlite itself (not a SQL error, which is a normal ErrorResponse): the
      // connection is closed by its handler, and clearTransactionIfNeeded passes the session on.
      this.log(`connection #${handlerId}: PGlite failed: ${String(error)}`);
      throw error;
    } finally {
      this.executing.delete(handlerId);
    }
    const type = message[0] ?? -1;
    if (ENDS_WITH_READY.has(type) && READY_IDLE.every((byte, i) => tail[i] === byte)) {
      this.release(handlerId);
    }
    return bytes;
  }

  /**
   * Prefixes a named prepared statement with its connection (`c<id>:<name>`) in Parse, Bind,
   * Describe and Close: in the one shared session, two connections (or a reconnected process)
   * preparing `driftline_mark_seen` would otherwise collide ("already exists"). Statements made
   * with SQL PREPARE are not scoped.
   */
  private scopeStatementName(handlerId: number, message: Uint8Array): Uint8Array {
    const located = locateStatementName(message);
    if (located === undefined) return message;
    const [start, end] = located;
    const name = `c${handlerId}:${DECODER.decode(message.subarray(start, end))}`;
    const statements = this.statements.get(handlerId) ?? new Set<string>();
    this.statements.set(handlerId, statements);
    if (message[0] === PARSE) statements.add(name);
    if (message[0] === CLOSE) statements.delete(name);
    return replaceBytes(message, start, end, ENCODER.encode(name));
  }

  private acquire(handlerId: number): Promise<void> {
    if (this.owner === handlerId) return Promise.resolve();
    if (this.owner === undefined && this.waiters.length === 0) {
      this.owner = handlerId;
      this.ownerSince = Date.now();
      return Promise.resolve();
    }
    return new Promise<void>((resolveGrant, reject) => {
      const preempt = setTimeout(() => this.preemptIdleOwner(handlerId), this.idleOwnerTimeoutMs);
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        const message =
          `connection #${handlerId} waited ${this.lockWaitTimeoutMs} ms for connection ` +
          `#${this.owner} to finish its transaction; closing it (PGlite runs one session at a time)`;
        this.log(message);
        reject(new Error(message));
      }, this.lockWaitTimeoutMs);
      const waiter: Waiter = {
        handlerId,
        grant: () => {
          clearTimeout(timer);
          clearTimeout(preempt);
          resolveGrant();
        },
        reject: (error) => {
          clearTimeout(timer);
          clearTimeout(preempt);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private release(handlerId: number): void {
    if (this.owner !== handlerId) return;
    const next = this.waiters.shift();
    this.owner = next?.handlerId;
    this.ownerSince = Date.now();
    next?.grant();
  }
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
