/** The local Upstash REST server as a stack service: a detached Node process, reused if up. */
import { resolve } from "node:path";
import { ConfigError } from "#core/errors";
import type { LocalStackConfig } from "./config";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const SERVER_SCRIPT = resolve(import.meta.dirname, "upstash-rest-server.ts");

/** True when an Upstash REST server at `url` accepts `token` and its Redis answers PING. */
export async function pingUpstashRest(
  url: string,
  token: string,
  timeoutMs = 1000,
): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: '["PING"]',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return false;
    }
    const body = (await res.json()) as { result?: unknown };
    return body.result === "PONG";
  } catch {
    return false;
  }
}

/** True when an Upstash REST server at `url` answers but refuses `token` (401). */
async function refusesToken(url: string, token: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: '["PING"]',
      signal: AbortSignal.timeout(1_000),
    });
    await res.body?.cancel();
    return res.status === 401;
  } catch {
    return false;
  }
}

export function upstashRestService(config: LocalStackConfig): LocalService {
  const url = `http://127.0.0.1:${config.UPSTASH_REST_PORT}`;
  const daemon = upstashRestDaemon(config, url);
  return {
    ...daemon,
    async up() {
      if (await refusesToken(url, config.UPSTASH_REDIS_REST_TOKEN)) {
        throw new ConfigError(
          `An Upstash REST server of another state directory already listens on ${url} and refuses this stack's token. ` +
            `Set UPSTASH_REST_PORT to a free port, or UPSTASH_REDIS_REST_TOKEN to that server's token (its <state dir>/run/upstash-rest.token).`,
        );
      }
      return daemon.up();
    },
  };
}

function upstashRestDaemon(config: LocalStackConfig, url: string): LocalService {
  return daemonService({
    name: "upstash-rest",
    label: `Upstash REST server on ${url}`,
    port: { number: config.UPSTASH_REST_PORT, variable: "UPSTASH_REST_PORT" },
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: () => pingUpstashRest(url, config.UPSTASH_REDIS_REST_TOKEN),
    spawn: () =>
      tsxDaemon(SERVER_SCRIPT, {
        env: {
          UPSTASH_REST_PORT: String(config.UPSTASH_REST_PORT),
          REDIS_URL: config.REDIS_URL,
          UPSTASH_REDIS_REST_TOKEN: config.UPSTASH_REDIS_REST_TOKEN,
        },
      }),
    readyTimeoutMs: 30_000,
    readyIntervalMs: 100,
    stopGraceMs: 5_000,
    hint: `It answers PING only when Redis at ${config.REDIS_URL} is up.`,
  });
}
