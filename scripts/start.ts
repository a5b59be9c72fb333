/**
 * `npm start`: the whole platform on this machine with zero configuration. Starts (or reuses)
 * every local service, applies migrations, starts the stream processor, prints where each part
 * listens, and on Ctrl-C (or SIGTERM) stops everything it started.
 */
import { loadLocalStackConfig } from "./local/config";
import {
  deliveryService,
  graphApiTestServerService,
  graphApiTestServerUrl,
} from "./local/destinations";
import { stackEnv, stackStages } from "./local/stack";
import { streamProcessorService } from "./local/stream-processor";
import { migrate } from "./migrate";
import { bringUp, type RunningStack } from "./run-stack";

async function main(): Promise<void> {
  const t0 = performance.now();
  const config = loadLocalStackConfig();
  const env = stackEnv(config);
  const running: RunningStack[] = [];
  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${reason}: stopping…`);
    for (const part of running.reverse()) await part.down();
    console.log("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop("SIGINT", 0));
  process.on("SIGTERM", () => void stop("SIGTERM", 0));

  console.log("Driftline: starting the local platform\n");
  try {
    running.push(await bringUp(stackStages(config)));
    const { applied } = await migrate({ databaseUrl: env.DATABASE_URL! });
    const migrations = applied.length === 0 ? "up to date" : `applied ${applied.join(", ")}`;
    console.log(`  ${"migrations".padEnd(19)} ${migrations}`);
    running.push(await bringUp([[streamProcessorService(config, env)]]));
    running.push(
      await bringUp([[graphApiTestServerService(config)], [deliveryService(config, env)]]),
    );
  } catch (err) {
    console.error(`\n${err instanceof Error ? err.message : String(err)}`);
    await stop("start failed", 1);
    return;
  }

  console.log(`\nready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  Worker API      ${env.WORKER_URL}   (docs: ${env.WORKER_URL}/docs)`);
  console.log(
    `  Stream API      http://127.0.0.1:${config.STREAM_API_PORT}   (/v1/metrics, /metrics)`,
  );
  console.log(
    `  Graph API test  ${graphApiTestServerUrl(config)}   (destinations deliver here; /_driftline/received)`,
  );
  console.log(`  logs            ${config.DRIFTLINE_STATE_DIR}/logs/`);
  console.log(
    "\nCreate an API key:  npm run keys:create -- --tenant demo --roles admin,score,ingest",
  );
  console.log("Press Ctrl-C to stop.\n");
  // Keep the process alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

void main();
