/**
 * `npm start`: the whole platform on this machine with zero configuration. Starts (or reuses)
 * every local service, applies migrations, starts the stream processor, prints where each part
 * listens, and on Ctrl-C (or SIGTERM) stops everything it started.
 */
import { loadLocalStackConfig } from "./local/config";
import { stackEnv, stackStages } from "./local/stack";
import { migrate } from "./migrate";
import { bringUp } from "./run-stack";

async function main(): Promise<void> {
  const t0 = performance.now();
  const config = loadLocalStackConfig();
  console.log("Driftline: starting the local platform\n");
  const stack = await bringUp(stackStages(config));
  const env = stackEnv(config);
  const { applied } = await migrate({ databaseUrl: env.DATABASE_URL! });
  console.log(
    `  migrations     ${applied.length === 0 ? "up to date" : `applied ${applied.join(", ")}`}`,
  );

  console.log(`\nready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  Worker API      ${env.WORKER_URL}   (docs: ${env.WORKER_URL}/docs)`);
  console.log(`  logs            ${config.DRIFTLINE_STATE_DIR}/logs/`);
  console.log(
    "\nCreate an API key:  npm run keys:create -- --tenant demo --roles admin,score,ingest",
  );
  console.log("Press Ctrl-C to stop.\n");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await stack.down();
    console.log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  // Keep the process alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
