/** Ports, paths and versions of the local stack: read from the environment once, with defaults. */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { parseEnv, envPort as port } from "#core/config";

const LocalStackEnv = z.object({
  DRIFTLINE_STATE_DIR: z.string().default(resolve(import.meta.dirname, "../../.driftline")),
  DRIFTLINE_CACHE_DIR: z.string().default(join(homedir(), ".cache", "driftline")),
  KAFKA_VERSION: z.string().default("3.9.1"),
  KAFKA_PORT: port(19092),
  KAFKA_CONTROLLER_PORT: port(19093),
  KAFKA_HEAP: z.string().default("-Xms64m -Xmx512m"),
  KAFKA_TOPIC_PREFIX: z.string().default(""),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).default(3),
  KAFKA_REST_PORT: port(8082),
  REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
  UPSTASH_REST_PORT: port(8079),
  /** Unset: a random token per stack, kept in `<state>/run/upstash-rest.token`. */
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  DATABASE_URL: z.string().optional(),
  /**
   * The machine's PostgreSQL, tried when DATABASE_URL is unset: `npm start` uses it (in a
   * database of its own per state dir) when it answers, else the embedded PGlite. `off`: PGlite.
   */
  MACHINE_POSTGRES_URL: z.string().default("postgres://postgres@127.0.0.1:5432/postgres"),
  PGLITE_PORT: port(5499),
  NEON_WS_RELAY_PORT: port(5488),
  WORKER_PORT: port(8787),
  /**
   * `miniflare`: the deploy bundle on Miniflare (lighter, no live reload); `wrangler`: `wrangler
   * dev`, which rebuilds and reloads on every change to src/ (for working on the Worker).
   */
  DRIFTLINE_WORKER_RUNTIME: z.enum(["miniflare", "wrangler"]).default("miniflare"),
  STREAM_API_PORT: port(8788),
  RETRAIN_API_PORT: port(8789),
  GRAPH_API_TEST_PORT: port(8790),
  DELIVERY_API_PORT: port(8791),
});

export type LocalStackConfig = Omit<z.infer<typeof LocalStackEnv>, "UPSTASH_REDIS_REST_TOKEN"> & {
  UPSTASH_REDIS_REST_TOKEN: string;
};

/**
 * What `npm start` decided for a state dir (the database it chose, the Redis database it
 * claimed), kept in `<state>/stack.json` so every later command (keys, demo, reset, tests)
 * reaches the same stores. Variables in the environment override it.
 */
export interface StackChoices {
  DATABASE_URL?: string;
  REDIS_URL?: string;
}

export function stackChoicesFile(stateDir: string): string {
  return join(stateDir, "stack.json");
}

export function readStackChoices(stateDir: string): StackChoices {
  const file = stackChoicesFile(stateDir);
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as StackChoices;
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

export function writeStackChoices(stateDir: string, choices: StackChoices): void {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(stackChoicesFile(stateDir), `${JSON.stringify(choices, null, 2)}\n`);
}

export function upstashTokenFile(stateDir: string): string {
  return join(stateDir, "run", "upstash-rest.token");
}

/**
 * The local Upstash REST server's token: the one in the state dir if a server of this state dir
 * wrote it, else a new random one (written there, readable by this user only). Never a public
 * default: the server listens on a port any local process can reach.
 */
export function localUpstashToken(stateDir: string): string {
  const file = upstashTokenFile(stateDir);
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token.length > 0) return token;
  }
  const token = `dl_local_${randomBytes(24).toString("base64url")}`;
  mkdirSync(join(stateDir, "run"), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Starts a new token for the next Upstash REST server this state dir starts. */
export function renewLocalUpstashToken(stateDir: string): string {
  const file = upstashTokenFile(stateDir);
  if (existsSync(file)) writeFileSync(file, "");
  return localUpstashToken(stateDir);
}

export function loadLocalStackConfig(env: NodeJS.ProcessEnv = process.env): LocalStackConfig {
  const parsed = parseEnv(LocalStackEnv, env, { heading: "Invalid local stack environment:" });
  const choices = readStackChoices(parsed.DRIFTLINE_STATE_DIR);
  return {
    ...parsed,
    DATABASE_URL: parsed.DATABASE_URL ?? choices.DATABASE_URL,
    REDIS_URL:
      env.REDIS_URL === undefined ? (choices.REDIS_URL ?? parsed.REDIS_URL) : parsed.REDIS_URL,
    UPSTASH_REDIS_REST_TOKEN:
      parsed.UPSTASH_REDIS_REST_TOKEN ?? localUpstashToken(parsed.DRIFTLINE_STATE_DIR),
  };
}
