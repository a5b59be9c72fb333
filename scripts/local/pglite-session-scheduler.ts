/**
 * The embedded Postgres's one session, shared fairly: a connection owns the PGlite session from
 * its first message until Postgres answers ReadyForQuery "idle" (a whole extended-protocol batch
 * or transaction); an owner idle in a transaction that others wait for is closed. Why, and the
 * limits: the header of pglite-server.ts.
 */
import type { PGlite } from "@electric-sql/pglite";

/** How long others wait for a connection idle in a transaction before it is closed. */
export const IDLE_OWNER_TIMEOUT_MS = 5_000;

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
export class PgliteSessionScheduler {
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
