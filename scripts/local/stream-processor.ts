/** The stream processor as a local-stack daemon (for `npm start`), ready when its /ready says so. */
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
import type { LocalService } from "./service";

const ROOT = resolve(import.meta.dirname, "../..");
const NAME = "stream-processor";

export function streamProcessorService(
  config: LocalStackConfig,
  env: Record<string, string>,
): LocalService {
  const url = `http://127.0.0.1:${config.STREAM_API_PORT}`;
  const isReady = async () => {
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
      return res.status === 200;
    } catch {
      return false;
    }
  };
  return {
    name: NAME,
    isReady,
    async up() {
      if (await isReady()) return { url, startedHere: false };
      const pid = startDaemon(config.DRIFTLINE_STATE_DIR, {
        name: NAME,
        // The Node running this script (Node 22 from npm), with tsx as a loader: no build step.
        command: process.execPath,
        args: ["--import", "tsx", resolve(ROOT, "stream-processor/main.ts")],
        cwd: ROOT,
        env: { ...process.env, ...env, STREAM_API_PORT: String(config.STREAM_API_PORT) },
      });
      const log = logFile(config.DRIFTLINE_STATE_DIR, NAME);
      await waitUntilReady({
        name: "the stream processor",
        check: isReady,
        timeoutMs: 60_000,
        stillAlive: () => isAlive(pid) && runningPid(config.DRIFTLINE_STATE_DIR, NAME) === pid,
        describe: () => `Log ${log}:\n${tailLog(log)}`,
      });
      return { url, startedHere: true };
    },
    async down() {
      // Graceful: SIGTERM lets it finish the batch in hand and commit.
      await stopDaemon(config.DRIFTLINE_STATE_DIR, NAME, 35_000);
    },
  };
}
