/** An HTTP server speaking Upstash's Redis REST protocol in front of a real Redis (like SRH). */
// Written by hand: the only npm candidate (@humanwhocodes/upstash-redis-server) corrupts base64
// replies and lacks /multi-exec, and SRH itself is an Elixir Docker image. Redis access is ioredis.
import { createHash, timingSafeEqual } from "node:crypto";
import { realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { DriftlineError, ValidationError } from "#core/errors";
import { loadLocalStackConfig } from "./config";
import { encodeResult } from "./upstash-rest/encode-result";
import {
  parseCommand,
  parseCommandList,
  parseJson,
  parsePathCommand,
} from "./upstash-rest/parse-command";
import { createCommandPreparer } from "./upstash-rest/prepare-command";
import { createRedisRunner, type ExecOutcome, redactUrl } from "./upstash-rest/redis-runner";
import { readBody, sendJson, statusFor } from "./upstash-rest/send-json";

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

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export function createUpstashRestServer(options: UpstashRestServerOptions): UpstashRestServer {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const expectedToken = createHash("sha256").update(options.token).digest();
  const redis = createRedisRunner({
    redisUrl: options.redisUrl,
    redisWaitMs: options.redisWaitMs ?? 1000,
    log,
  });
  const prepare = createCommandPreparer();

  function authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Only the header: a token in the query string (which Upstash also takes) could be sent by
    // any web page through an <img> or a form, which carry no Authorization header.
    const token = match?.[1]?.trim();
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
    if (req.headers.origin !== undefined) {
      // Browsers send Origin on cross-site requests; Upstash clients never do. Refused before
      // anything else, so no web page the developer opens can reach the local Redis.
      req.resume();
      sendJson(res, 403, {
        error: "The local Upstash REST server serves Redis clients, not web pages.",
      });
      return;
    }
    if (!authorized(req)) {
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
        const outcomes = await redis.runPipeline(commands);
        redis.throwIfConnectionFailed(outcomes);
        sendJson(res, 200, entries(outcomes, base64));
        return;
      }
      const transaction = await redis.runTransaction(commands);
      if (transaction.ok) sendJson(res, 200, entries(transaction.outcomes, base64));
      else sendJson(res, 400, { error: transaction.error });
      return;
    }

    const command =
      path === "/"
        ? parseCommand(parseJson(body), "the request body")
        : parsePathCommand(path, url.searchParams, body);
    const [outcome] = await redis.runPipeline([prepare(command)]);
    redis.throwIfConnectionFailed([outcome!]);
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
      redis.disconnect();
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
