/** What the REST API allows of a Redis command, and the script edits stock Redis needs (Upstash-only flags). */
import { createHash } from "node:crypto";
import { ValidationError } from "#core/errors";
import type { Arg } from "./parse-command";

export interface PreparedCommand {
  name: string;
  args: Arg[];
  /** Commands that may block their connection run on a connection of their own. */
  blocking: boolean;
  /** Rewrites the reply, e.g. SCRIPT LOAD answers the sha of the script the client sent. */
  mapReply?: (reply: unknown) => unknown;
}

// Commands that administer the server itself: no Driftline client needs them, and they would let
// anyone holding the token reconfigure, wipe or stop the machine's Redis (Upstash refuses them too).
const ADMIN_COMMANDS = new Set([
  "acl",
  "bgrewriteaof",
  "bgsave",
  "config",
  "debug",
  "failover",
  "flushall",
  "flushdb",
  "lastsave",
  "migrate",
  "module",
  "replicaof",
  "save",
  "shutdown",
  "slaveof",
  "swapdb",
]);

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

/**
 * A preparer of commands for one server: rejects those the REST API does not serve, marks the
 * blocking ones, and rewrites scripts and their shas (it remembers which sha Redis knows for
 * which script the client sent).
 */
export function createCommandPreparer(): (command: Arg[]) => PreparedCommand {
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
    if (ADMIN_COMMANDS.has(name)) {
      throw new ValidationError(
        `ERR ${name.toUpperCase()} administers the Redis server and is refused over the REST API; use redis-cli`,
      );
    }
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

  return prepare;
}
