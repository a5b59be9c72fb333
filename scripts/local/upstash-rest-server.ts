/** An HTTP server speaking Upstash's Redis REST protocol in front of a real Redis (like SRH). */
// Written by hand: the only npm candidate (@humanwhocodes/upstash-redis-server) corrupts base64
// replies and lacks /multi-exec, and SRH itself is an Elixir Docker image. Redis access is ioredis.
import { createHash, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { Command, Redis, ReplyError } from "ioredis";
import {
  DependencyUnavailableError,
  DriftlineError,
  type ErrorCode,
  ValidationError,
} from "#core/errors";
import { loadLocalStackConfig } from "./config";

export interface UpstashRestServerOptions {
  /** e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** The bearer token clients must send (UPSTASH_REDIS_REST_TOKEN). */
  token: string;
  /** Largest request body accepted; default 16 MiB. */
  maxBodyBytes?: number;
  /** How long a request waits for a (re)connecting Redis before answering 503; default 1000 ms. */
  redisWaitMs?: number;
  /** Where connection events go; default one line on stderr each. */
  log?: (line: string) => void;
}

export interface UpstashRestServer {
  /** Starts listening; resolves to the base URL clients use, e.g. `http://127.0.0.1:8079`. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops accepting requests, drops keep-alive sockets and closes the Redis connections. */
  close(): Promise<void>;
  readonly httpServer: Server;
}

type Arg = string | Buffer;

interface PreparedCommand {
  name: string;
  args: Arg[];
  /** Commands that may block their connection run on a connection of their own. */
  blocking: boolean;
  /** Rewrites the reply, e.g. SCRIPT LOAD answers the sha of the script the client sent. */
  mapReply?: (reply: unknown) => unknown;
}

type ExecOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

const OK = Buffer.from("OK");
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

// Commands that change the state of a connection (or stream from it) cannot run on the connection
// shared by all HTTP requests; Upstash rejects most of them over REST as well.
const REJECTED_COMMANDS = new Set([
  "auth",
  "client",
  "discard",
  "exec",
  "hello",
  "monitor",
  "multi",
  "psubscribe",
  "psync",
  "punsubscribe",
  "quit",
  "replconf",
  "reset",
  "select",
  "ssubscribe",
  "subscribe",
  "sunsubscribe",
  "sync",
  "unsubscribe",
  "unwatch",
  "watch",
]);

const BLOCKING_COMMANDS = new Set([
  "blmove",
  "blmpop",
  "blpop",
  "brpop",
  "brpoplpush",
  "bzmpop",
  "bzpopmax",
  "bzpopmin",
  "wait",
  "waitaof",
]);

// Shebang flags only Upstash understands; stock Redis 7 fails the script with
// "ERR Unexpected flag in script shebang". @upstash/ratelimit 2.x sends `allow-key-locking`.
const UPSTASH_ONLY_SCRIPT_FLAGS = new Set(["allow-key-locking"]);

// Bounds the client-sha → Redis-sha map; real clients use a handful of scripts.
const MAX_SCRIPT_MAPPINGS = 10_000;

/** Replies are handed back exactly as the RESP2 decoder produced them (Buffers, flat arrays). */
class RawReplyCommand extends Command {
  override transformReply(result: Buffer | Buffer[]): Buffer | Buffer[] {
    return result;
  }
}

function sha1Hex(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

function text(arg: Arg | undefined): string {
  if (arg === undefined) return "";
  return typeof arg === "string" ? arg : arg.toString("utf8");
}

/**
 * Removes Upstash-only flags from a Lua script's `#!lua flags=...` line, keeping the line itself
 * (so Redis applies the same shebang semantics and error line numbers stay right).
 * Returns the script unchanged when there is nothing to remove.
 */
export function stripUpstashScriptFlags(script: string): string {
  if (!script.startsWith("#!")) return script;
  const newline = script.indexOf("\n");
  const shebang = newline === -1 ? script : script.slice(0, newline);
  const body = newline === -1 ? "" : script.slice(newline);
  let changed = false;
  const parts = shebang
    .split(/[ \t]+/)
    .map((part) => {
      if (!part.startsWith("flags=")) return part;
      const flags = part.slice("flags=".length).split(",");
      const kept = flags.filter((flag) => !UPSTASH_ONLY_SCRIPT_FLAGS.has(flag.trim()));
      if (kept.length === flags.length) return part;
      changed = true;
      return kept.length > 0 ? `flags=${kept.join(",")}` : "";
    })
    .filter((part) => part !== "");
  return changed ? parts.join(" ") + body : script;
}

/** Strings are base64 when the client asks (`Upstash-Encoding: base64`); arrays recursively. */
function encodeValue(value: unknown, base64: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  if (typeof value === "number") return value;
  if (typeof value === "string") return base64 ? Buffer.from(value).toString("base64") : value;
  if (Array.isArray(value)) return value.map((item) => encodeValue(item, base64));
  // An error reply nested in an array (e.g. inside a Lua table) becomes its message.
  if (value instanceof Error) return encodeValue(value.message, base64);
  return encodeValue(String(value), base64);
}

/** A top-level reply: the literal "OK" stays plain, as Upstash does (the client relies on it). */
function encodeResult(value: unknown, base64: boolean): unknown {
  if (Buffer.isBuffer(value) && value.equals(OK)) return "OK";
  return encodeValue(value, base64);
}

function parseCommand(value: unknown, where: string): Arg[] {
  const example = 'a JSON array such as ["SET", "key", "value"]';
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError(`${where} must be ${example}`);
  }
  if (typeof value[0] !== "string" || value[0] === "") {
    throw new ValidationError(`${where}[0] must be the command name as a string, e.g. "GET"`);
  }
  return value.map((item: unknown, index) => {
    if (typeof item === "string") return item;
    if (typeof item === "number" && Number.isFinite(item)) return String(item);
    if (typeof item === "boolean") return String(item);
    const got = item === null ? "null" : Array.isArray(item) ? "an array" : typeof item;
    throw new ValidationError(`${where}[${index}] must be a string, number or boolean, got ${got}`);
  });
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) {
    throw new ValidationError(
      'the request body is empty; send a command as a JSON array such as ["GET", "key"]',
    );
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`the request body is not valid JSON (${reason})`);
  }
}

function parseCommandList(body: Buffer, endpoint: string): Arg[][] {
  const value = parseJson(body);
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError(
      `${endpoint} expects a non-empty JSON array of commands, e.g. [["SET", "k", "v"], ["GET", "k"]]`,
    );
  }
  return value.map((command, index) => parseCommand(command, `command ${index}`));
}

/** A command from the path (`/set/key/value`), a POSTed body as last argument, then query pairs. */
function parsePathCommand(pathname: string, query: URLSearchParams, body: Buffer): Arg[] {
  let args: Arg[];
  try {
    args = pathname
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => decodeURIComponent(segment));
  } catch {
    throw new ValidationError(`the path ${pathname} is not valid percent-encoding`);
  }
  if (body.length > 0) args.push(body);
  for (const [name, value] of query) {
    if (name === "_token") continue;
    args.push(name);
    if (value !== "") args.push(value);
  }
  return args;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

function statusFor(code: ErrorCode): number {
  switch (code) {
    case "VALIDATION":
      return 400;
    case "UNAUTHENTICATED":
      return 401;
    case "NOT_FOUND":
      return 404;
    case "PAYLOAD_TOO_LARGE":
      return 413;
    case "DEPENDENCY_UNAVAILABLE":
      return 503;
    default:
      return 500;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  const payload = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
  };
  if (close) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(payload);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function tooLarge(maxBytes: number): DriftlineError {
  return new DriftlineError(
    "PAYLOAD_TOO_LARGE",
    `the request body exceeds ${maxBytes} bytes; split it into smaller pipelines`,
  );
}

export function createUpstashRestServer(options: UpstashRestServerOptions): UpstashRestServer {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const redisWaitMs = options.redisWaitMs ?? 1000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redisLabel = redactUrl(options.redisUrl);
  const expectedToken = createHash("sha256").update(options.token).digest();

  // One shared connection: ioredis pipelines concurrent requests over it, and Redis runs commands
  // one at a time anyway. RESP2 so replies have the shapes Upstash returns (flat hashes, string
  // scores). No offline queue and no resend after a reconnect: an HTTP request fails with 503
  // instead of waiting, and a non-idempotent command is never applied twice.
  const shared = new Redis(options.redisUrl, {
    protocol: 2,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
  });
  let lastRedisError = "";
  shared.on("error", (error: Error) => {
    if (error.message !== lastRedisError) log(`Redis at ${redisLabel}: ${error.message}`);
    lastRedisError = error.message;
  });
  shared.on("ready", () => {
    if (lastRedisError !== "") log(`Redis at ${redisLabel} is reachable again`);
    lastRedisError = "";
  });
  const dedicated = new Set<Redis>();

  // @upstash/ratelimit EVALSHAs the sha of its unmodified script; Redis knows the edited one.
  const scriptShas = new Map<string, string>();

  function rememberScript(original: string, edited: string): void {
    if (scriptShas.size >= MAX_SCRIPT_MAPPINGS) scriptShas.clear();
    scriptShas.set(sha1Hex(original), sha1Hex(edited));
  }

  function editScript(script: Arg | undefined): { original: string; edited: string } {
    const original = text(script);
    const edited = stripUpstashScriptFlags(original);
    if (edited !== original) rememberScript(original, edited);
    return { original, edited };
  }

  function redisSha(sha: Arg | undefined): string {
    const lower = text(sha).toLowerCase();
    return scriptShas.get(lower) ?? lower;
  }

  function prepare(command: Arg[]): PreparedCommand {
    const name = text(command[0]).toLowerCase();
    const args = command.slice(1);
    if (REJECTED_COMMANDS.has(name)) {
      throw new ValidationError(
        `ERR ${name.toUpperCase()} is not supported over the REST API` +
          (name === "multi" || name === "exec" ? "; POST the commands to /multi-exec" : ""),
      );
    }
    const blocking =
      BLOCKING_COMMANDS.has(name) ||
      ((name === "xread" || name === "xreadgroup") &&
        args.some((arg) => text(arg).toLowerCase() === "block"));
    if ((name === "eval" || name === "eval_ro") && args.length > 0) {
      args[0] = editScript(args[0]).edited;
    } else if ((name === "evalsha" || name === "evalsha_ro") && args.length > 0) {
      args[0] = redisSha(args[0]);
    } else if (name === "script") {
      const sub = text(args[0]).toLowerCase();
      if (sub === "load" && args.length > 1) {
        const { original, edited } = editScript(args[1]);
        args[1] = edited;
        // Answer the sha of the script the client sent, which is what it will EVALSHA.
        const clientSha = Buffer.from(sha1Hex(original));
        return { name, args, blocking, mapReply: () => clientSha };
      }
      if (sub === "exists") {
        for (let i = 1; i < args.length; i++) args[i] = redisSha(args[i]);
      }
    }
    return { name, args, blocking };
  }

  function unavailable(error: unknown): DependencyUnavailableError {
    const reason = error instanceof Error ? error.message : String(error);
    return new DependencyUnavailableError(
      `Redis at ${redisLabel} is unavailable (${reason}); start it or set REDIS_URL`,
      { cause: error },
    );
  }

  let readyWait: Promise<void> | undefined;

  /**
   * Resolves once the shared connection is ready. While Redis is known to be down (an error since
   * the last ready) it fails at once; while first connecting it waits up to `redisWaitMs`.
   */
  function ensureReady(): Promise<void> | undefined {
    if (shared.status === "ready") return undefined;
    if (shared.status === "end") return Promise.reject(unavailable(new Error("connection closed")));
    if (lastRedisError !== "") return Promise.reject(unavailable(new Error(lastRedisError)));
    // One waiter for all requests, so a burst adds no listeners per request.
    readyWait ??= once(shared, "ready", { signal: AbortSignal.timeout(redisWaitMs) })
      .then(
        () => undefined,
        (error: unknown) => {
          throw unavailable(
            error instanceof Error && error.name === "AbortError"
              ? new Error(`not connected after waiting ${redisWaitMs} ms`)
              : error,
          );
        },
      )
      .finally(() => {
        readyWait = undefined;
      });
    return readyWait;
  }

  function send(connection: Redis, command: PreparedCommand): Promise<ExecOutcome> {
    const raw = new RawReplyCommand(command.name, command.args, { replyEncoding: null });
    connection.sendCommand(raw);
    return (raw.promise as Promise<unknown>).then(
      (value) => ({ ok: true, value: command.mapReply ? command.mapReply(value) : value }),
      (error: Error) => ({ ok: false, error }),
    );
  }

  /** Redis-side errors are answers; anything else means the connection failed. */
  function throwIfConnectionFailed(outcomes: ExecOutcome[]): void {
    for (const outcome of outcomes) {
      if (!outcome.ok && !(outcome.error instanceof ReplyError)) throw unavailable(outcome.error);
    }
  }

  /** Runs commands in order, pipelined; blocking ones get a short-lived connection of their own. */
  async function runPipeline(commands: PreparedCommand[]): Promise<ExecOutcome[]> {
    if (!commands.some((command) => command.blocking)) {
      await ensureReady();
      return Promise.all(commands.map((command) => send(shared, command)));
    }
    const connection = shared.duplicate({
      enableOfflineQueue: true,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    connection.on("error", () => {
      // Reported through the command's rejection.
    });
    dedicated.add(connection);
    try {
      await connection.connect().catch((error: unknown) => {
        throw unavailable(error);
      });
      return await Promise.all(commands.map((command) => send(connection, command)));
    } finally {
      dedicated.delete(connection);
      connection.disconnect();
    }
  }

  async function runTransaction(
    commands: PreparedCommand[],
  ): Promise<{ ok: true; outcomes: ExecOutcome[] } | { ok: false; error: string }> {
    await ensureReady();
    // MULTI, the commands and EXEC are written in one synchronous run, so no other request's
    // command can land inside the transaction on the shared connection.
    const multi = send(shared, { name: "multi", args: [], blocking: false });
    const queued = commands.map((command) => send(shared, command));
    const exec = send(shared, { name: "exec", args: [], blocking: false });
    const all = await Promise.all([multi, ...queued, exec]);
    throwIfConnectionFailed(all);
    const execOutcome = all[all.length - 1]!;
    if (!execOutcome.ok) {
      // Discarded as a whole (e.g. an unknown command or wrong arity): name the first reason.
      const reason = all.slice(1, -1).find((outcome) => !outcome.ok);
      const detail = reason && !reason.ok ? `: ${reason.error.message}` : "";
      return { ok: false, error: `${execOutcome.error.message.replace(/\.$/, "")}${detail}` };
    }
    if (!Array.isArray(execOutcome.value)) {
      return { ok: false, error: "EXECABORT the transaction was aborted" };
    }
    const replies = execOutcome.value as unknown[];
    return {
      ok: true,
      outcomes: replies.map((reply, index): ExecOutcome => {
        if (reply instanceof Error) return { ok: false, error: reply };
        const mapReply = commands[index]?.mapReply;
        return { ok: true, value: mapReply ? mapReply(reply) : reply };
      }),
    };
  }

  function authorized(req: IncomingMessage, query: URLSearchParams): boolean {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const token = match?.[1]?.trim() ?? query.get("_token");
    if (!token) return false;
    return timingSafeEqual(createHash("sha256").update(token).digest(), expectedToken);
  }

  function entries(outcomes: ExecOutcome[], base64: boolean): unknown[] {
    return outcomes.map((outcome) =>
      outcome.ok
        ? { result: encodeResult(outcome.value, base64) }
        : { error: outcome.error.message },
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    if (!["GET", "HEAD", "POST", "PUT"].includes(method)) {
      req.resume();
      res.setHeader("allow", "GET, HEAD, POST, PUT");
      sendJson(res, 405, { error: `method ${method} is not allowed; use POST` });
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!authorized(req, url.searchParams)) {
      req.resume();
      sendJson(res, 401, {
        error: "Unauthorized: send the header Authorization: Bearer <UPSTASH_REDIS_REST_TOKEN>",
      });
      return;
    }
    const format = req.headers["upstash-response-format"];
    if (typeof format === "string" && format.toLowerCase() !== "json") {
      req.resume();
      sendJson(res, 400, { error: `Upstash-Response-Format ${format} is not supported; use json` });
      return;
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const body = await readBody(req, maxBodyBytes);
    const path = url.pathname.replace(/\/+$/, "") || "/";

    if (path === "/pipeline" || path === "/multi-exec") {
      if (method !== "POST" && method !== "PUT") {
        throw new ValidationError(`${path} takes a POST with a JSON array of commands`);
      }
      const commands = parseCommandList(body, path).map(prepare);
      if (path === "/pipeline") {
        const outcomes = await runPipeline(commands);
        throwIfConnectionFailed(outcomes);
        sendJson(res, 200, entries(outcomes, base64));
        return;
      }
      const transaction = await runTransaction(commands);
      if (transaction.ok) sendJson(res, 200, entries(transaction.outcomes, base64));
      else sendJson(res, 400, { error: transaction.error });
      return;
    }

    const command =
      path === "/"
        ? parseCommand(parseJson(body), "the request body")
        : parsePathCommand(path, url.searchParams, body);
    const [outcome] = await runPipeline([prepare(command)]);
    throwIfConnectionFailed([outcome!]);
    if (outcome!.ok) sendJson(res, 200, { result: encodeResult(outcome!.value, base64) });
    else sendJson(res, 400, { error: outcome!.error.message });
  }

  const httpServer = createServer({ noDelay: true }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof DriftlineError) {
        const status = statusFor(error.code);
        sendJson(res, status, { error: error.message }, status === 413);
        return;
      }
      log(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
      sendJson(res, 500, { error: "internal error in the local Upstash REST server" });
    });
  });
  // Malformed HTTP also gets a JSON body, as every non-2xx answer does.
  httpServer.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const payload = JSON.stringify({ error: `malformed HTTP request (${error.message})` });
    socket.end(
      "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n" +
        `content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
  });
  // Longer than the clients' idle timeouts (undici: 4 s), so a client never reuses a socket the
  // server is closing at that moment.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;

  return {
    httpServer,
    listen(port, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          reject(
            error.code === "EADDRINUSE"
              ? new Error(`port ${port} on ${host} is in use; set UPSTASH_REST_PORT to a free port`)
              : error,
          );
        };
        httpServer.once("error", onError);
        httpServer.listen(port, host, () => {
          httpServer.off("error", onError);
          const address = httpServer.address() as AddressInfo;
          const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
          resolve(`http://${shownHost}:${address.port}`);
        });
      });
    },
    async close() {
      const closed = httpServer.listening
        ? new Promise<void>((resolve) => httpServer.close(() => resolve()))
        : Promise.resolve();
      httpServer.closeAllConnections();
      await closed;
      for (const connection of dedicated) connection.disconnect();
      shared.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const config = loadLocalStackConfig();
  const server = createUpstashRestServer({
    redisUrl: config.REDIS_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
  });
  const url = await server.listen(config.UPSTASH_REST_PORT);
  process.stderr.write(`Upstash REST server on ${url} -> ${redactUrl(config.REDIS_URL)}\n`);
  const stop = () => {
    server.close().finally(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

function runDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (runDirectly()) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
