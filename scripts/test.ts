/**
 * `npm test`: starts (or reuses) the real services the tests need, runs vitest with their
 * addresses in the environment, then stops what it started. Arguments go to vitest, e.g.
 * `npm test -- --project unit` (no services needed) or `npm test -- src/core/stats`.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { loadLocalStackConfig } from "./local/config";
import { stackEnv, stackStages } from "./local/stack";
import { migrate } from "./migrate";
import { bringUp } from "./run-stack";

const ROOT = resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);

const USAGE = `Usage: npm test [-- <vitest arguments>]

Starts (or reuses) the real services the tests need (Kafka, the Upstash REST server in front of
Redis, the relay to the machine's PostgreSQL, the Worker), runs vitest with their addresses in
the environment, then stops what it started. Needs Java 17+, Maven, Redis on 6379 and the
machine's PostgreSQL on 5432 (database test, trust auth).

  npm test -- --project unit          unit tests only, no services
  npm test -- src/core/stats          one folder
  DRIFTLINE_KEEP_SERVICES=1 npm test  keep the services running afterwards (faster reruns)

Every vitest option works after --; \`npx vitest --help\` lists them.`;

if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const projectIndex = args.indexOf("--project");
const unitOnly = projectIndex >= 0 && args[projectIndex + 1] === "unit";

// Database tests run against the machine's PostgreSQL unless told otherwise; a separate test
// covers the embedded PGlite default.
const config = loadLocalStackConfig({
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
});

async function main(): Promise<number> {
  const t0 = performance.now();
  const stack = unitOnly ? undefined : await bringUpForTests();
  if (stack) console.log(`local services ready in ${Math.round(performance.now() - t0)} ms\n`);
  let code = 1;
  try {
    code = await runVitest();
  } finally {
    if (stack && process.env.DRIFTLINE_KEEP_SERVICES !== "1") await stack.down();
  }
  return code;
}

async function bringUpForTests() {
  console.log(
    "starting local services for the tests (DRIFTLINE_KEEP_SERVICES=1 keeps them running)",
  );
  const stack = await bringUp(stackStages(config));
  // The Worker the end-to-end tests call reads and writes the stack's database (its admin routes
  // need the audit log, its reads the monitoring tables): bring its schema up to date first, as
  // `npm start` does, so no test depends on another having migrated it.
  try {
    const { applied } = await migrate({ databaseUrl: stackEnv(config).DATABASE_URL! });
    if (applied.length > 0) console.log(`migrations: applied ${applied.length}`);
  } catch (error) {
    if (process.env.DRIFTLINE_KEEP_SERVICES !== "1") await stack.down();
    throw error;
  }
  return stack;
}

function runVitest(): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn(resolve(ROOT, "node_modules/.bin/vitest"), ["run", ...args], {
      cwd: ROOT,
      stdio: "inherit",
      env: { ...process.env, ...stackEnv(config) },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("exit", (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
