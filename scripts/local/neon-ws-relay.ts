/** A WebSocket-to-TCP relay for the Neon serverless driver: what Neon's wsproxy does, for local Postgres. */
// Written by hand on top of `ws`: no well-kept npm package does this (the websockify ports are
// unmaintained or pin an ancient `ws`). The protocol is trivial: `GET /v2?address=host:port`
// upgrades to a WebSocket, the relay opens a TCP connection to host:port, and bytes flow both
// ways as binary frames, unchanged (the Postgres wire protocol is inside).
import { createServer, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { resolve } from "node:path";
import type { Duplex } from "node:stream";
import { parseArgs } from "node:util";
import { type WebSocket, WebSocketServer } from "ws";
import { databaseTarget } from "#core/config";
import { type LocalStackConfig, loadLocalStackConfig } from "./config";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const SERVICE_NAME = "neon-ws-relay";
/** Identifies this relay in `GET /health`, so a foreign process on the port is not mistaken for it. */
const HEALTH_SERVICE = "driftline-neon-ws-relay";
/** Pause reading from Postgres while this many bytes wait to go out on the WebSocket. */
const WS_HIGH_WATER_BYTES = 1024 * 1024;
const TCP_CONNECT_TIMEOUT_MS = 10_000;
/** Largest frame accepted from a client; a Postgres message (e.g. a COPY chunk) stays far below. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface NeonWsRelayOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Listen address; loopback by default: the relay has no authentication of its own. */
  host?: string;
  /** Targets clients may reach, as `host:port`; anything else is refused with 403. */
  allow: readonly string[];
  /** One line per refused or failed connection; silent when omitted. */
  log?: (line: string) => void;
}

export interface NeonWsRelay {
  /** `ws://host:port`, the value for `createNeonPool({ wsRelayUrl })`. */
  readonly url: string;
  readonly port: number;
  /** Relayed connections open now. */
  openConnections(): number;
  /** Stops listening and closes every relayed connection. */
  close(): Promise<void>;
}

export type RelayTarget = { host: string; port: number };
export type RelayTargetResult =
  | { ok: true; target: RelayTarget }
  | { ok: false; status: 400 | 403 | 404; message: string };

/** Canonical `host:port` (lower case, IPv6 without brackets) for allow-list comparison. */
export function normalizeTarget(hostPort: string): string | undefined {
  const at = hostPort.lastIndexOf(":");
  if (at <= 0) return undefined;
  const host = hostPort
    .slice(0, at)
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  const portText = hostPort.slice(at + 1);
  const port = Number(portText);
  if (host === "" || !/^\d+$/.test(portText) || port < 1 || port > 65535) return undefined;
  return `${host}:${port}`;
}

/** Where a relay request wants to go, or why it is refused (status for the HTTP answer). */
export function parseRelayTarget(
  requestUrl: string,
  allow: ReadonlySet<string>,
): RelayTargetResult {
  const url = new URL(requestUrl, "http://relay.invalid");
  if (url.pathname !== "/v2") {
    return { ok: false, status: 404, message: "Not found: connect to /v2?address=host:port" };
  }
  const address = url.searchParams.get("address");
  const normalized = address === null ? undefined : normalizeTarget(address);
  if (normalized === undefined) {
    return {
      ok: false,
      status: 400,
      message: "Missing or invalid address: expected ?address=host:port",
    };
  }
  if (!allow.has(normalized)) {
    return {
      ok: false,
      status: 403,
      message: `Target ${normalized} is not in the relay's allow-list (${[...allow].join(", ")})`,
    };
  }
  const at = normalized.lastIndexOf(":");
  return {
    ok: true,
    target: { host: normalized.slice(0, at), port: Number(normalized.slice(at + 1)) },
  };
}

/**
 * The targets a local stack needs: the machine's Postgres and PGlite on loopback, plus the
 * host:port of DATABASE_URL when one is set.
 */
export function defaultRelayAllowList(config: LocalStackConfig): string[] {
  const targets = [5432, config.PGLITE_PORT].flatMap((port) => [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
  ]);
  if (config.DATABASE_URL !== undefined) {
    try {
      targets.push(databaseTarget(config.DATABASE_URL));
    } catch {
      // An invalid DATABASE_URL is reported by the Postgres service, not here.
    }
  }
  return [...new Set(targets.map((t) => normalizeTarget(t)).filter((t) => t !== undefined))];
}

export async function startNeonWsRelay(options: NeonWsRelayOptions): Promise<NeonWsRelay> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const allow = new Set<string>();
  for (const entry of options.allow) {
    const normalized = normalizeTarget(entry);
    if (normalized === undefined)
      throw new Error(`Invalid relay allow-list entry "${entry}": expected host:port`);
    allow.add(normalized);
  }
  const sockets = new Set<Socket>();

  const http = createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ service: HEALTH_SERVICE, allow: [...allow], open: sockets.size }));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("WebSocket relay: connect to /v2?address=host:port\n");
  });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_FRAME_BYTES,
  });

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Browsers always send Origin on a WebSocket upgrade and database drivers never do: refusing
    // it keeps any web page the developer opens from reaching the trust-auth Postgres behind
    // the relay (a cross-site WebSocket is not stopped by CORS).
    if (req.headers.origin !== undefined) {
      log(`refused ${req.url}: a browser page (Origin ${req.headers.origin})`);
      rejectUpgrade(socket, 403, "The relay serves database drivers, not web pages.");
      return;
    }
    const parsed = parseRelayTarget(req.url ?? "/", allow);
    if (!parsed.ok) {
      log(`refused ${req.url}: ${parsed.message}`);
      rejectUpgrade(socket, parsed.status, parsed.message);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => relay(ws, parsed.target));
  });

  function relay(ws: WebSocket, target: RelayTarget): void {
    const tcp = connect({ host: target.host, port: target.port });
    sockets.add(tcp);
    tcp.setNoDelay(true);
    tcp.setTimeout(TCP_CONNECT_TIMEOUT_MS, () => tcp.destroy(new Error("connect timed out")));
    tcp.once("connect", () => tcp.setTimeout(0));

    // Client -> Postgres. Writes before `connect` are queued by the socket. When the socket's
    // buffer is full, stop reading the WebSocket until it drains.
    ws.on("message", (data, isBinary) => {
      if (!isBinary) {
        ws.close(1003, "binary frames only");
        return;
      }
      // `ws` hands binary frames over as one Buffer (binaryType "nodebuffer", the default).
      const flushed = tcp.write(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
      if (!flushed && !ws.isPaused) {
        ws.pause();
        tcp.once("drain", () => ws.resume());
      }
    });
    // Postgres -> client. Stop reading Postgres while the WebSocket has a backlog; resume when
    // the frames that made it were flushed.
    tcp.on("data", (chunk) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(chunk, { binary: true }, () => {
        if (tcp.isPaused() && ws.bufferedAmount < WS_HIGH_WATER_BYTES / 2) tcp.resume();
      });
      if (ws.bufferedAmount >= WS_HIGH_WATER_BYTES) tcp.pause();
    });

    // Either side ending or failing ends the other.
    tcp.on("error", (error) => {
      log(`${target.host}:${target.port}: ${error.message}`);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        ws.close(1011, truncateReason(`upstream ${target.host}:${target.port}: ${error.message}`));
      }
    });
    tcp.on("close", () => {
      sockets.delete(tcp);
      if (ws.readyState === ws.OPEN) ws.close(1000, "upstream closed");
    });
    // A clean close lets queued bytes (the client's Terminate) reach Postgres first.
    ws.on("close", () => {
      tcp.end();
      tcp.setTimeout(5_000, () => tcp.destroy());
    });
    ws.on("error", (error) => {
      log(`client: ${error.message}`);
      tcp.destroy();
      ws.terminate();
    });
  }

  await new Promise<void>((resolveListen, reject) => {
    http.once("error", reject);
    http.listen(options.port, host, () => {
      http.off("error", reject);
      resolveListen();
    });
  });
  const address = http.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;

  return {
    url: `ws://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    openConnections: () => sockets.size,
    async close() {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => wss.close(() => done()));
      await new Promise<void>((done) => http.close(() => done()));
    },
  };
}

function rejectUpgrade(socket: Duplex, status: 400 | 403 | 404, message: string): void {
  const reason = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found" }[status];
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** WebSocket close reasons are limited to 123 bytes. */
function truncateReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

interface RelayHealth {
  service: string;
  allow: string[];
}

/** The relay's health answer, or undefined when nothing (or something else) answers there. */
export async function fetchRelayHealth(
  port: number,
  timeoutMs = 1000,
): Promise<RelayHealth | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const body = (await res.json()) as Partial<RelayHealth>;
    return body.service === HEALTH_SERVICE && Array.isArray(body.allow)
      ? (body as RelayHealth)
      : undefined;
  } catch {
    return undefined;
  }
}

export interface NeonRelayServiceOptions {
  /** Targets the running relay must allow; `up()` fails with a clear message otherwise. */
  requiredTargets?: readonly string[];
}

/** The relay as a detached daemon on NEON_WS_RELAY_PORT, reused when already up. */
export function neonRelayService(
  config: LocalStackConfig,
  options: NeonRelayServiceOptions = {},
): LocalService {
  const port = config.NEON_WS_RELAY_PORT;
  const url = `ws://127.0.0.1:${port}`;
  const allow = defaultRelayAllowList(config);
  const required = (options.requiredTargets ?? []).map((t) => normalizeTarget(t) ?? t);

  return daemonService({
    name: SERVICE_NAME,
    label: `Neon WebSocket relay on ${url}`,
    port: { number: port, variable: "NEON_WS_RELAY_PORT" },
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: async () => (await fetchRelayHealth(port)) !== undefined,
    spawn: () =>
      tsxDaemon(import.meta.filename, {
        args: allow.flatMap((t) => ["--allow", t]),
        env: { NEON_WS_RELAY_PORT: String(port) },
      }),
    readyTimeoutMs: 20_000,
    readyIntervalMs: 100,
    stopGraceMs: 5_000,
    hint: `Is port ${port} taken by another program? Set NEON_WS_RELAY_PORT.`,
    // A relay started or reused here must allow this stack's database.
    async afterReady() {
      const health = await fetchRelayHealth(port);
      const missing = required.filter((t) => !health?.allow.includes(t));
      if (missing.length > 0) {
        throw new Error(
          `The Neon WebSocket relay on port ${port} is running but does not allow ${missing.join(", ")} ` +
            `(it allows ${health?.allow.join(", ") ?? "nothing"}). It was started with another ` +
            "DATABASE_URL or PGLITE_PORT: stop it (npm run services:down) and start again.",
        );
      }
    },
  });
}

/** Daemon entry: `npx tsx scripts/local/neon-ws-relay.ts [--allow host:port]...` */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { allow: { type: "string", multiple: true } } });
  const config = loadLocalStackConfig();
  const allow = values.allow ?? defaultRelayAllowList(config);
  const stamp = () => new Date().toISOString();
  const relay = await startNeonWsRelay({
    port: config.NEON_WS_RELAY_PORT,
    allow,
    log: (line) => process.stdout.write(`${stamp()} ${line}\n`),
  });
  process.stdout.write(
    `${stamp()} Neon WebSocket relay on ${relay.url}, allowing ${allow.join(", ")}\n`,
  );
  const stop = () => {
    relay.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `neon-ws-relay: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
