/** Runs prepared commands on Redis: pipelined on one shared connection, blocking ones on their own, MULTI/EXEC atomically. */
import { once } from "node:events";
import { Command, Redis, ReplyError } from "ioredis";
import { DependencyUnavailableError } from "#core/errors";
import type { PreparedCommand } from "./prepare-command";

export type ExecOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

export interface RedisRunnerOptions {
  redisUrl: string;
  /** How long a command waits for a (re)connecting Redis before failing as unavailable, ms. */
  redisWaitMs: number;
  log: (line: string) => void;
}

export interface RedisRunner {
  /** Runs commands in order, pipelined; blocking ones get a short-lived connection of their own. */
  runPipeline(commands: PreparedCommand[]): Promise<ExecOutcome[]>;
  runTransaction(
    commands: PreparedCommand[],
  ): Promise<{ ok: true; outcomes: ExecOutcome[] } | { ok: false; error: string }>;
  /** Redis-side errors are answers; anything else means the connection failed. */
  throwIfConnectionFailed(outcomes: ExecOutcome[]): void;
  /** Closes every connection. */
  disconnect(): void;
}

/** Replies are handed back exactly as the RESP2 decoder produced them (Buffers, flat arrays). */
class RawReplyCommand extends Command {
  override transformReply(result: Buffer | Buffer[]): Buffer | Buffer[] {
    return result;
  }
}

/** The URL with its password replaced by ***, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

export function createRedisRunner(options: RedisRunnerOptions): RedisRunner {
  const { redisWaitMs, log } = options;
  const redisLabel = redactUrl(options.redisUrl);

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

  return {
    runPipeline,
    runTransaction,
    throwIfConnectionFailed,
    disconnect() {
      for (const connection of dedicated) connection.disconnect();
      shared.disconnect();
    },
  };
}
