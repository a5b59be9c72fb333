/** The edge Worker under `wrangler dev` (workerd, local R2 and Queues), as a local-stack service. */
import { resolve } from "node:path";
import type { LocalStackConfig } from "./config";
import { localDatabaseUrl } from "./postgres";
import { type DaemonCommand, daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const ROOT = resolve(import.meta.dirname, "../..");
const HOST = resolve(import.meta.dirname, "worker-host.ts");

export interface WorkerVars {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  KAFKA_REST_URL: string;
  KAFKA_TOPIC_PREFIX: string;
  /** The read API's Postgres, reached through the stack's relay (a secret on Cloudflare). */
  DATABASE_URL: string;
  NEON_WS_RELAY_URL: string;
}

export function workerVars(config: LocalStackConfig): WorkerVars {
  return {
    UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${config.UPSTASH_REST_PORT}`,
    UPSTASH_REDIS_REST_TOKEN: config.UPSTASH_REDIS_REST_TOKEN,
    KAFKA_REST_URL: `http://127.0.0.1:${config.KAFKA_REST_PORT}`,
    KAFKA_TOPIC_PREFIX: config.KAFKA_TOPIC_PREFIX,
    DATABASE_URL: localDatabaseUrl(config),
    NEON_WS_RELAY_URL: `ws://127.0.0.1:${config.NEON_WS_RELAY_PORT}`,
  };
}

/**
 * What the Miniflare host runs, decided here by the stack that starts it (its config may differ
 * from what the host's own environment would give, e.g. `npm test`'s DATABASE_URL).
 */
export interface WorkerHostSpec {
  port: number;
  stateDir: string;
  vars: WorkerVars;
}

export const WORKER_HOST_ENV = "DRIFTLINE_WORKER_HOST";

export function workerHostSpec(config: LocalStackConfig): WorkerHostSpec {
  return {
    port: config.WORKER_PORT,
    stateDir: config.DRIFTLINE_STATE_DIR,
    vars: workerVars(config),
  };
}

export function workerService(config: LocalStackConfig, name = "worker"): LocalService {
  const url = `http://127.0.0.1:${config.WORKER_PORT}`;
  return daemonService({
    name,
    label: `the Worker (${config.DRIFTLINE_WORKER_RUNTIME === "miniflare" ? "Miniflare" : "wrangler dev"})`,
    port: { number: config.WORKER_PORT, variable: "WORKER_PORT" },
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: async () => {
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
        return res.ok;
      } catch {
        return false;
      }
    },
    spawn: () =>
      config.DRIFTLINE_WORKER_RUNTIME === "miniflare"
        ? tsxDaemon(HOST, { env: { [WORKER_HOST_ENV]: JSON.stringify(workerHostSpec(config)) } })
        : wranglerDev(config),
    readyTimeoutMs: 90_000,
    stopGraceMs: 10_000,
  });
}

/** `wrangler dev` on WORKER_PORT: rebuilds and reloads the Worker on every change. */
function wranglerDev(config: LocalStackConfig): DaemonCommand {
  return {
    command: resolve(ROOT, "node_modules/.bin/wrangler"),
    args: [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(config.WORKER_PORT),
      "--inspector-port",
      "0",
      "--persist-to",
      resolve(config.DRIFTLINE_STATE_DIR, "wrangler"),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
      ...Object.entries(workerVars(config)).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    cwd: ROOT,
    env: {
      ...process.env,
      PATH: `${resolve(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
      WRANGLER_SEND_METRICS: "false",
      CI: "true",
    },
  };
}
