/**
 * `npm start`: the whole platform on this machine with zero configuration. Starts (or reuses)
 * every local service, applies migrations, starts the Driftline processes, prints where each
 * part listens and how much memory the stack holds, then supervises what it started (a process
 * that exits is reported and restarted). Ctrl-C (or SIGTERM) stops everything it started; so
 * does a failed start.
 */
import { parseCommandLine } from "./command-line";
import { loadLocalStackConfig } from "./local/config";
import { graphApiTestServerUrl } from "./local/destinations";
import { prepareLocalStack } from "./local/prepare-stack";
import { formatMiB, launcherAncestors, processTreeRss } from "./local/rss";
import type { LocalService } from "./local/service";
import { platformProcesses, stackEnv, stackStages } from "./local/stack";
import { createSupervisor } from "./local/supervisor";
import { migrate } from "./migrate";
import { bringUp, type RunningStack } from "./run-stack";

const USAGE = `Usage: npm start [-- --help]

Starts the local platform: Redis (through a local Upstash REST server), Postgres (DATABASE_URL,
else the machine's PostgreSQL when it answers, else an embedded PGlite), Kafka and its REST
gateway, the Worker (wrangler dev) and the stream processor; applies migrations; then watches
every process it started and restarts one that exits. Ctrl-C stops everything it started.

Every port and path is set by environment variables (see docs/configuration.md), e.g.
  WORKER_PORT=8800 STREAM_API_PORT=8801 npm start
  DRIFTLINE_STATE_DIR=/tmp/other-stack npm start     a second, independent stack

Related: npm run services:status (what runs), npm run reset (clear all local state).`;

/** The idle stack this project aims for, summed RSS. */
const IDLE_RSS_TARGET_BYTES = 1.2 * 1024 ** 3;

async function main(): Promise<void> {
  parseCommandLine({ command: "npm start", usage: USAGE, options: {} });
  const t0 = performance.now();
  let config = loadLocalStackConfig();
  const running: RunningStack[] = [];
  const supervisor = createSupervisor({
    stateDir: config.DRIFTLINE_STATE_DIR,
    log: (line) => console.log(line),
  });
  const track = (service: LocalService, endpoint: { url: string; startedHere: boolean }) =>
    supervisor.add(service, endpoint);
  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    supervisor.stop();
    console.log(`\n${reason}: stopping what this start started…`);
    for (const part of running.reverse()) await part.down();
    console.log("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop("SIGINT", 0));
  process.on("SIGTERM", () => void stop("SIGTERM", 0));

  console.log("Driftline: starting the local platform\n");
  try {
    config = await prepareLocalStack();
    const env = stackEnv(config);
    running.push(await bringUp(stackStages(config), undefined, track));
    const { applied } = await migrate({ databaseUrl: env.DATABASE_URL! });
    const migrations = applied.length === 0 ? "up to date" : `applied ${applied.length}`;
    console.log(`  ${"migrations".padEnd(21)} ${migrations}`);
    running.push(
      await bringUp(
        platformProcesses(config, env).map((p) => [p]),
        undefined,
        track,
      ),
    );
  } catch (err) {
    console.error(`\n${err instanceof Error ? err.message : String(err)}`);
    await stop("start failed", 1);
    return;
  }

  const env = stackEnv(config);
  console.log(`\nready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  Worker API      ${env.WORKER_URL}   (API docs: ${env.WORKER_URL}/docs)`);
  console.log(`  Console         ${env.WORKER_URL}/dashboard`);
  console.log(
    `  Stream API      http://127.0.0.1:${config.STREAM_API_PORT}   (/v1/metrics, /metrics)`,
  );
  console.log(
    `  Retraining ops  http://127.0.0.1:${config.RETRAIN_API_PORT}   (/ready, /metrics, controls)`,
  );
  console.log(
    `  Graph API test  ${graphApiTestServerUrl(config)}   (destinations deliver here; /_driftline/received)`,
  );
  console.log(`  state and logs  ${config.DRIFTLINE_STATE_DIR}   (npm run reset clears it all)`);
  printMemory();
  console.log("\nTry it:  npm run demo        (demo traffic; prints a key for the console)");
  console.log("Status:  npm run services:status");
  console.log("Press Ctrl-C to stop.\n");
  // Keep the process alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

/** Summed RSS of this launcher, npm above it and every process it started. */
function printMemory(): void {
  const rss = processTreeRss([...launcherAncestors(), process.pid]);
  if (rss === undefined) return;
  const verdict =
    rss.totalBytes <= IDLE_RSS_TARGET_BYTES
      ? ""
      : ` (above the ${formatMiB(IDLE_RSS_TARGET_BYTES)} idle target: see docs/troubleshooting.md)`;
  console.log(
    `  memory          ${formatMiB(rss.totalBytes)} RSS in ${rss.processes} processes${verdict}`,
  );
}

void main();
