/**
 * Benchmark: `driftline events replay` through the running local platform (the Worker that
 * `npm start` serves: auth, validation, hashing, dedup in Redis, the queue to Kafka).
 *
 * Usage: npm run bench:replay [-- --events 20000 --batch-size 500 --rate 2000 --url http://127.0.0.1:8787]
 * Prints events/s of a first replay of a file (every event new, all accepted), of the same file
 * again (all duplicates), and how closely `--rate` is held (achieved / asked, from a rate-limited
 * replay of a quarter of the file). Needs the local stack running (npm start); the events go to
 * a fresh tenant whose key the benchmark creates.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { replayEvents } from "../../scripts/cli/replay/replay-events";
import { parseCommandLine } from "../../scripts/command-line";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { table } from "./bench-support";

const { values } = parseCommandLine({
  command: "npm run bench:replay",
  usage: `Usage: npm run bench:replay [-- --events 20000 --batch-size 500 --rate 2000 --url <worker>]

Replays a generated NDJSON file through the local platform's Worker twice (accepted, then
duplicates) and once more at --rate for a quarter of the events, and prints events/s.
Needs the local stack running (npm start).`,
  options: {
    events: { type: "string", default: "20000" },
    "batch-size": { type: "string", default: "500" },
    rate: { type: "string", default: "2000" },
    url: { type: "string" },
  },
});

const stack = loadLocalStackConfig();
const url = values.url ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
const events = Number(values.events);
const batchSize = Number(values["batch-size"]);
const rate = Number(values.rate);
const tenant = `bench-replay-${Date.now().toString(36)}`;
const { key } = await createApiKey({
  tenant,
  roles: ["ingest"],
  origins: [],
  redis: {
    url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
    token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
  },
});

const dir = mkdtempSync(join(tmpdir(), "driftline-bench-replay-"));
function eventFile(name: string, n: number): string {
  const now = Math.floor(Date.now() / 1000);
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      event_name: i % 10 === 0 ? "Purchase" : "PageView",
      event_time: now - (i % 3600),
      event_id: `${name}-${i}`,
      event_source_url: `https://shop.example/p/${i % 500}?utm_campaign=c${i % 7}`,
      user_data: { em: `person${i}@example.com`, client_user_agent: "Mozilla/5.0 (bench)" },
      custom_data: { value: (i % 100) + 0.5, currency: "EUR" },
    }),
  );
  const file = join(dir, `${name}.ndjson`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const target = { url, key };
const rows: (string | number)[][] = [];
try {
  const file = eventFile("all", events);
  for (const pass of ["first (accepted)", "again (duplicates)"]) {
    const s = await replayEvents({
      file,
      format: "ndjson",
      target,
      route: { kind: "events" },
      batchSize,
      resume: false,
    });
    const seconds = s.elapsedMs / 1000;
    rows.push([
      pass,
      s.accepted,
      s.duplicates,
      s.rejected,
      s.requests,
      seconds.toFixed(2),
      Math.round((s.accepted + s.duplicates + s.rejected) / seconds),
    ]);
  }
  const paced = eventFile("paced", Math.max(1, Math.floor(events / 4)));
  const s = await replayEvents({
    file: paced,
    format: "ndjson",
    target,
    route: { kind: "events" },
    batchSize,
    ratePerSecond: rate,
    resume: false,
  });
  const seconds = s.elapsedMs / 1000;
  const achieved = (s.accepted + s.duplicates + s.rejected) / seconds;
  rows.push([
    `--rate ${rate}`,
    s.accepted,
    s.duplicates,
    s.rejected,
    s.requests,
    seconds.toFixed(2),
    Math.round(achieved),
  ]);
  console.log(
    `Replay through ${url}, ${events} events, batches of ${batchSize} (load average ${loadavg()[0]?.toFixed(2)})\n`,
  );
  console.log(
    table(["replay", "accepted", "duplicate", "rejected", "requests", "seconds", "events/s"], rows),
  );
  console.log(`\n--rate held: achieved / asked = ${(achieved / rate).toFixed(3)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
