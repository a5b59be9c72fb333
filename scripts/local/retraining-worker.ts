/** The retraining worker as a local-stack daemon (for `npm start`), ready when its /ready says so. */
import { resolve } from "node:path";
import type { LocalStackConfig } from "./config";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const MAIN = resolve(import.meta.dirname, "../../retraining-worker/main.ts");

export function retrainingWorkerService(
  config: LocalStackConfig,
  env: Record<string, string>,
): LocalService {
  const url = `http://127.0.0.1:${config.RETRAIN_API_PORT}`;
  return daemonService({
    name: "retraining-worker",
    label: "the retraining worker",
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: async () => {
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
        return res.status === 200;
      } catch {
        return false;
      }
    },
    spawn: () =>
      tsxDaemon(MAIN, {
        env: {
          ...env,
          RETRAIN_API_PORT: String(config.RETRAIN_API_PORT),
          DRIFTLINE_WORKER_URL: env.WORKER_URL ?? `http://127.0.0.1:${config.WORKER_PORT}`,
        },
      }),
    readyTimeoutMs: 60_000,
    // Graceful: SIGTERM lets it finish the step in hand.
    stopGraceMs: 35_000,
  });
}
