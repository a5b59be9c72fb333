/** The local Upstash REST server as a stack service: a detached Node process, reused if up. */
import { resolve } from "node:path";
import type { LocalStackConfig } from "./config";
import {
  isAlive,
  logFile,
  runningPid,
  startDaemon,
  stopDaemon,
  tailLog,
  waitUntilReady,
} from "./process";
import type { LocalService, ServiceEndpoint } from "./service";

const NAME = "upstash-rest";
const REPO_ROOT = resolve(import.meta.dirname, "../..");
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

export function upstashRestService(config: LocalStackConfig): LocalService {
  const url = `http://127.0.0.1:${config.UPSTASH_REST_PORT}`;
  const stateDir = config.DRIFTLINE_STATE_DIR;
  const isReady = () => pingUpstashRest(url, config.UPSTASH_REDIS_REST_TOKEN);

  return {
    name: NAME,
    isReady,
    async up(): Promise<ServiceEndpoint> {
      if (await isReady()) return { url, startedHere: false };
      // A pid from an earlier start that is alive but not ready yet is waited for, not doubled.
      const pid =
        runningPid(stateDir, NAME) ??
        startDaemon(stateDir, {
          name: NAME,
          // The Node running this (v22 from npm) with tsx as a loader: one process, no tsx CLI.
          command: process.execPath,
          args: ["--import", "tsx", SERVER_SCRIPT],
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            UPSTASH_REST_PORT: String(config.UPSTASH_REST_PORT),
            REDIS_URL: config.REDIS_URL,
            UPSTASH_REDIS_REST_TOKEN: config.UPSTASH_REDIS_REST_TOKEN,
          },
        });
      const log = logFile(stateDir, NAME);
      await waitUntilReady({
        name: `Upstash REST server on ${url}`,
        check: isReady,
        timeoutMs: 30_000,
        intervalMs: 100,
        stillAlive: () => isAlive(pid),
        describe: () =>
          `It answers PING only when Redis at ${config.REDIS_URL} is up. Log ${log}:\n${tailLog(log)}`,
      });
      return { url, startedHere: true };
    },
    async down(): Promise<void> {
      await stopDaemon(stateDir, NAME, 5_000);
    },
  };
}
