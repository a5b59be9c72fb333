/** The stream processor as a local-stack daemon (for `npm start`), ready when its /ready says so. */
import { resolve } from "node:path";
import type { LocalStackConfig } from "./config";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const MAIN = resolve(import.meta.dirname, "../../stream-processor/main.ts");

export function streamProcessorService(
  config: LocalStackConfig,
  env: Record<string, string>,
): LocalService {
  const url = `http://127.0.0.1:${config.STREAM_API_PORT}`;
  return daemonService({
    name: "stream-processor",
    label: "the stream processor",
    port: { number: config.STREAM_API_PORT, variable: "STREAM_API_PORT" },
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: async () => {
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
        if (res.status !== 200) {
          await res.body?.cancel();
          return false;
        }
        // Its own answer, not another program's /ready on the same port.
        const body = (await res.json()) as { checks?: { kafka?: unknown; database?: unknown } };
        return body.checks?.kafka !== undefined && body.checks.database !== undefined;
      } catch {
        return false;
      }
    },
    spawn: () =>
      tsxDaemon(MAIN, { env: { ...env, STREAM_API_PORT: String(config.STREAM_API_PORT) } }),
    readyTimeoutMs: 60_000,
    // Graceful: SIGTERM lets it finish the batch in hand and commit.
    stopGraceMs: 35_000,
  });
}
