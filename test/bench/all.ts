/** Runs every benchmark once, one after another, in a quick but meaningful configuration; exits non-zero if one fails. */
// Usage: npm run bench
// One at a time, as each one measures CPU and latency and would disturb the others.
import { spawnSync } from "node:child_process";
import { parseCommandLine } from "../../scripts/command-line";
import { ROOT } from "./bench-support";

parseCommandLine({
  command: "npm run bench",
  usage: `Usage: npm run bench

Runs every benchmark once, one after another, in a quick configuration, and exits non-zero if one
fails: bench:drift, bench:score, bench:ingest, bench:consume, bench:stream, bench:jobs. Each starts what it
needs (a Kafka broker, an Upstash REST server) when it is not running and stops it afterwards.
Needs Redis (REDIS_URL, default redis://127.0.0.1:6379) and the machine's PostgreSQL
(postgres://postgres@127.0.0.1:5432/test, trust auth) for bench:stream, bench:read and bench:jobs.
For one benchmark's options: npm run bench:<name> -- --help`,
  options: {},
});

const RUNS: readonly { script: string; args: string[] }[] = [
  { script: "bench:drift", args: ["--repeats", "11"] },
  { script: "bench:score", args: ["--requests", "1000", "--seconds", "2"] },
  { script: "bench:ingest", args: ["--seconds", "2", "--requests", "500"] },
  { script: "bench:consume", args: ["--bundles", "25", "--rounds", "1"] },
  { script: "bench:stream", args: ["--quick"] },
  { script: "bench:jobs", args: ["--rows", "100000"] },
];

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const failed: string[] = [];
for (const { script, args } of RUNS) {
  console.log(`\n=== npm run ${script} -- ${args.join(" ")}\n`);
  const started = performance.now();
  const result = spawnSync(npm, ["run", "--silent", script, "--", ...args], {
    cwd: ROOT,
    stdio: "inherit",
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (result.status === 0) {
    console.log(`\n=== ${script}: done in ${seconds} s`);
  } else {
    const why = result.error?.message ?? `exit ${result.status ?? result.signal}`;
    console.error(`\n=== ${script}: FAILED (${why}) after ${seconds} s`);
    failed.push(script);
  }
}
if (failed.length > 0) {
  console.error(`\nFailed: ${failed.join(", ")}`);
  process.exit(1);
}
console.log(`\nAll ${RUNS.length} benchmarks ran.`);
