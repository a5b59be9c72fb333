/**
 * Benchmark: event ingestion in workerd, run straight on Miniflare's API with the wrangler-built
 * bundle (not through `wrangler dev`'s proxy, which adds ~5 ms per request).
 *
 * Usage: npm run bench:ingest [-- --seconds 5 --concurrency 4 --requests 2000 --batches 1,100,1000
 *        --routes capi,web --profile capi-1000.cpuprofile]
 * Prints events/s for batches of 1, 100 and 1000 on both routes (CAPI events carry every customer
 * information parameter raw, so each is normalised and hashed), and p50/p99 of a single event sent
 * alone. Targets: ≥ 20,000 events/s with batches of 1000 on both routes; Worker CPU of a one-event
 * request ≤ 2× a no-op request's (GET /health, measured the same way right before each row);
 * Worker CPU per event in batches of 1000 ≤ 15 µs (website) and ≤ 25 µs (CAPI). `--profile` writes a V8
 * CPU profile of the Worker's isolate (through workerd's inspector) taken during the largest batch
 * row of the first route in `--routes`; open it in Chrome DevTools or VS Code.
 *
 * Every request carries fresh event ids, so all events go the whole way: auth, validation,
 * hashing, dedup (Upstash REST server → Redis), queue send (a request's events in bundles of
 * ~120 KB). A no-op consumer drains the queue (Kafka is not part of this measurement). After
 * each row the bundles one of its requests sends are sent again without the Worker: what
 * Miniflare's local queue, which runs in the same workerd process, costs per event; the "Worker
 * CPU" column is the workerd CPU per event less that, the Worker's own cost (in production the
 * queue is Cloudflare's service, not code in the Worker's thread). The 1-minute load average is
 * printed with the table: on a shared machine, compare runs at similar load, and CPU per event
 * more than events/s. Needs Redis on REDIS_URL (default redis://127.0.0.1:6379); uses the
 * Upstash REST server at UPSTASH_REDIS_REST_URL when it answers, else starts one on a free port
 * and stops it after.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import { parseCommandLine } from "../../scripts/command-line";
import {
  buildBundle,
  freePort,
  percentile,
  startUpstashRest,
  table,
  workerFromBundle,
} from "./bench-support";
import {
  type CpuPids,
  noopThroughput,
  send,
  sequentialLatencies,
  throughput,
  workerdPids,
} from "./ingest-load";
import { QUEUE_FLOOR_SCRIPT, queueFloor, scenarioQueueMessages } from "./ingest-queue-floor";
import { bodyTemplate, type Scenario } from "./ingest-workload";
import { startWorkerProfile } from "./worker-profile";

/** Printed by --help: the header above. */
const USAGE = `Benchmark: event ingestion in workerd, run straight on Miniflare's API with the wrangler-built
bundle (not through \`wrangler dev\`'s proxy, which adds ~5 ms per request).

Usage: npm run bench:ingest [-- --seconds 5 --concurrency 4 --requests 2000 --batches 1,100,1000
       --routes capi,web --profile capi-1000.cpuprofile]
Prints events/s for batches of 1, 100 and 1000 on both routes (CAPI events carry every customer
information parameter raw, so each is normalised and hashed), and p50/p99 of a single event sent
alone. Target: ≥ 20,000 events/s with batches of 1000 on both routes. \`--profile\` writes a V8
CPU profile of the Worker's isolate (through workerd's inspector) taken during the largest batch
row of the first route in \`--routes\`; open it in Chrome DevTools or VS Code.

Every request carries fresh event ids, so all events go the whole way: auth, validation,
hashing, dedup (Upstash REST server → Redis), queue send (a request's events in bundles of
~120 KB). A no-op consumer drains the queue (Kafka is not part of this measurement). After
each row the bundles one of its requests sends are sent again without the Worker: what
Miniflare's local queue, which runs in the same workerd process, costs per event; the "Worker
CPU" column is the workerd CPU per event less that, the Worker's own cost (in production the
queue is Cloudflare's service, not code in the Worker's thread). The 1-minute load average is
printed with the table: on a shared machine, compare runs at similar load, and CPU per event
more than events/s. Needs Redis on REDIS_URL (default redis://127.0.0.1:6379); uses the
Upstash REST server at UPSTASH_REDIS_REST_URL when it answers, else starts one on a free port
and stops it after.`;

const QUEUE = "driftline-ingest";
const TARGET_EVENTS_PER_SECOND = 20_000;
/** Worker CPU of a one-event request at most this many times a no-op request's. */
const TARGET_SINGLE_EVENT_VS_NOOP = 2;
/** Worker CPU per event in batches of 1000, µs. */
const TARGET_BATCH_US_PER_EVENT = { web: 15, capi: 25 } as const;

const { values: args } = parseCommandLine({
  command: "npm run bench:ingest",
  usage: USAGE,
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "4" },
    requests: { type: "string", default: "2000" },
    batches: { type: "string", default: "1,100,1000" },
    routes: { type: "string", default: "capi,web" },
    profile: { type: "string" },
  },
});
const BATCHES = args.batches.split(",").map(Number);
const ROUTES = args.routes.split(",") as ("capi" | "web")[];
if (BATCHES.some((b) => !Number.isInteger(b) || b < 1 || b > 1000)) {
  throw new Error("--batches must list whole numbers from 1 to 1000");
}
if (ROUTES.some((r) => r !== "capi" && r !== "web")) throw new Error("--routes takes capi, web");
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const LATENCY_REQUESTS = Number(args.requests);
for (const [name, value] of Object.entries({ SECONDS, CONCURRENCY, LATENCY_REQUESTS })) {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name.toLowerCase()} must be > 0`);
}

async function deleteByPattern(redis: Redis, pattern: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, { match: pattern, count: 1000 });
    cursor = String(next);
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "driftline-bench-ingest-"));
  const upstash = await startUpstashRest();
  const redis = new Redis({ url: upstash.url, token: upstash.token, enableTelemetry: false });
  const tenant = `bench-ingest-${Date.now()}`;
  let mf: Miniflare | undefined;
  let keyHash: string | undefined;
  const inspectorPort = args.profile === undefined ? undefined : await freePort();
  try {
    console.log("building the Worker with wrangler (deploy --dry-run) …");
    const bundle = join(work, "bundle");
    await buildBundle(undefined, bundle);

    mf = new Miniflare(
      convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: await freePort(),
        ...(inspectorPort === undefined ? {} : { inspectorPort }),
        workers: [
          {
            ...workerFromBundle("driftline", bundle, {
              UPSTASH_REDIS_REST_URL: upstash.url,
              UPSTASH_REDIS_REST_TOKEN: upstash.token,
              KAFKA_REST_URL: "http://127.0.0.1:1",
              // The benchmark measures ingestion, not the limiter refusing it.
              RATE_LIMIT_REQUESTS: "10000000",
              // The budgets are per key and the benchmark sends everything with one key.
              RATE_LIMIT_EVENTS: "1000000000",
              RATE_LIMIT_BYTES: "1000000000000",
              // Short-lived dedup keys: the benchmark writes hundreds of thousands.
              EVENT_DEDUP_TTL_SECONDS: "600",
            }),
            r2Buckets: ["MODELS"],
            queueProducers: { INGEST_QUEUE: QUEUE },
          },
          {
            // Queues text messages of a given size and nothing else: what Miniflare's local queue
            // (its broker and the drain below, in this same workerd process) costs per message.
            name: "queue-floor",
            modules: true,
            script: QUEUE_FLOOR_SCRIPT,
            compatibilityDate: "2026-10-01",
            queueProducers: { INGEST_QUEUE: QUEUE },
          },
          {
            // Drains the ingest queue without Kafka: this benchmark stops at the durable buffer.
            name: "drain",
            modules: true,
            script: "export default { async queue(batch) { batch.ackAll(); } };",
            compatibilityDate: "2026-10-01",
            queueConsumers: { [QUEUE]: { maxBatchSize: 100, maxBatchTimeout: 1 } },
          },
        ],
      }),
    );
    const base = (await mf.ready).origin;

    const { key, record } = await generateApiKey({ tenant, roles: ["ingest"] });
    keyHash = record.keyHash;
    await redis.set(apiKeyRedisKey(record.keyHash), record);

    const scenarios: Scenario[] = [];
    for (const route of ROUTES) {
      for (const batch of BATCHES) {
        scenarios.push({
          name: `${route === "capi" ? "POST /v1/capi/{pixel}/events" : "POST /v1/events"} × ${batch}`,
          route,
          batch,
          path: route === "capi" ? "/v1/capi/1234567890/events" : "/v1/events",
          template: bodyTemplate(route, batch),
        });
      }
    }

    // Warm-up: JIT, connection pools, the key cache.
    for (const s of scenarios)
      for (let i = 0; i < (s.batch === 1 ? 200 : 5); i++) await send(base, key, s);

    const single = scenarios.filter((s) => s.batch === 1);
    const latency = new Map<string, number[]>();
    for (const s of single)
      latency.set(s.name, await sequentialLatencies(base, key, s, LATENCY_REQUESTS));

    const loadBefore = loadavg()[0] ?? Number.NaN;
    const pids: CpuPids = {
      workerd: workerdPids(),
      upstash: upstash.child.pid === undefined ? [] : [upstash.child.pid],
    };
    const rows: (string | number)[][] = [];
    const rowResults = new Map<
      string,
      Awaited<ReturnType<typeof throughput>> & { queueUsPerEvent: number | undefined }
    >();
    const queueNotes = new Map<string, string>();
    const us = (v: number | undefined) => (v === undefined ? "n/a" : v.toFixed(0));
    const profiled = scenarios
      .filter((s) => s.route === ROUTES[0])
      .reduce<Scenario | undefined>(
        (a, s) => (a === undefined || s.batch > a.batch ? s : a),
        undefined,
      );
    const floorWorker = (await mf.getWorker("queue-floor")) as unknown as Fetcher;
    /** The no-op request's workerd CPU, measured right before each single-event row. */
    const noop = new Map<string, Awaited<ReturnType<typeof noopThroughput>>>();
    for (const s of scenarios) {
      if (s.batch === 1) {
        noop.set(
          s.name,
          await noopThroughput(base, pids, { seconds: SECONDS, concurrency: CONCURRENCY }),
        );
      }
      const profiler =
        inspectorPort !== undefined && s === profiled
          ? await startWorkerProfile(inspectorPort, "driftline")
          : undefined;
      const r = await throughput(base, key, s, pids, {
        seconds: SECONDS,
        concurrency: CONCURRENCY,
      });
      if (profiler && args.profile) {
        writeFileSync(args.profile, JSON.stringify(await profiler.stop()));
        console.log(`CPU profile of the Worker during "${s.name}" written to ${args.profile}`);
      }
      // The local queue's own cost per event for this scenario: the bundles one of its requests
      // sends, sent on their own, right after the row (so at a similar machine load).
      const messages = await scenarioQueueMessages(s);
      const floor = await queueFloor(
        floorWorker,
        messages,
        pids,
        Math.max(2, SECONDS / 2),
        CONCURRENCY,
      );
      queueNotes.set(
        s.name,
        `${messages.events} events in ${messages.bundles} bundle${messages.bundles === 1 ? "" : "s"} of ~${(messages.meanBundleBytes / 1000).toFixed(messages.meanBundleBytes < 10_000 ? 1 : 0)} KB, ${Math.round(floor.eventsPerSecond).toLocaleString("en")} events/s alone`,
      );
      const worker =
        r.workerdUsPerEvent === undefined || floor.workerdUsPerEvent === undefined
          ? undefined
          : r.workerdUsPerEvent - floor.workerdUsPerEvent;
      rowResults.set(s.name, { ...r, queueUsPerEvent: floor.workerdUsPerEvent });
      const samples = latency.get(s.name);
      rows.push([
        s.name,
        Math.round(r.requestsPerSecond),
        Math.round(r.eventsPerSecond),
        us(worker),
        us(r.workerdUsPerEvent),
        us(floor.workerdUsPerEvent),
        us(r.upstashUsPerEvent),
        samples ? percentile(samples, 0.5).toFixed(2) : "",
        samples ? percentile(samples, 0.99).toFixed(2) : "",
      ]);
    }

    console.log(
      `\nIngestion in workerd (Miniflare, wrangler bundle; ${CONCURRENCY} concurrent callers for ${SECONDS} s per row; latency: ${LATENCY_REQUESTS} sequential single-event requests; CPU from /proc: the workerd process incl. Miniflare's queue broker and the drain consumer, and the local Upstash REST server)`,
    );
    console.log(
      table(
        [
          "scenario",
          "req/s",
          "events/s",
          "Worker CPU µs/event (no local queue)",
          "workerd CPU µs/event",
          "local queue µs/event",
          "Upstash REST CPU µs/event",
          "p50 ms",
          "p99 ms",
        ],
        rows,
      ),
    );
    console.log(
      `Worker CPU = workerd CPU − local queue: the workerd process's CPU per event less what Miniflare's local queue (its broker and the drain consumer, in the same process) spends on the same bundles sent alone (${Math.max(2, SECONDS / 2)} s after each row). In production the queue is Cloudflare's service, outside the Worker's thread.`,
    );
    for (const s of scenarios.filter((s) => s.batch === 1000)) {
      const r = rowResults.get(s.name);
      const rate = r?.eventsPerSecond ?? Number.NaN;
      console.log(
        `${s === scenarios.find((x) => x.batch === 1000) ? "\n" : ""}Target: ≥ ${TARGET_EVENTS_PER_SECOND.toLocaleString("en")} events/s with batches of 1000, ${s.name}${s.route === "capi" ? " (every parameter hashed)" : ""}: ${Math.round(rate).toLocaleString("en")} → ${rate >= TARGET_EVENTS_PER_SECOND ? "met" : "NOT met"}`,
      );
    }
    for (const s of scenarios.filter((s) => s.batch === 1000)) {
      const r = rowResults.get(s.name);
      if (r?.workerdUsPerEvent === undefined || r.queueUsPerEvent === undefined) continue;
      const worker = r.workerdUsPerEvent - r.queueUsPerEvent;
      console.log(
        `${s.name}: Worker ~${worker.toFixed(0)} µs of CPU per event without the local queue (workerd ${r.workerdUsPerEvent.toFixed(0)} − queue ${r.queueUsPerEvent.toFixed(1)}; ${queueNotes.get(s.name)}) → one core sustains ~${Math.round(1e6 / worker).toLocaleString("en")} events/s of this Worker when Upstash and the queue are remote (this machine: ${availableParallelism()} cores shared by every process here).`,
      );
    }
    console.log("\nTargets (Worker CPU, measured in this run)");
    for (const s of scenarios) {
      const r = rowResults.get(s.name);
      if (r?.workerdUsPerEvent === undefined || r.queueUsPerEvent === undefined) continue;
      const worker = r.workerdUsPerEvent - r.queueUsPerEvent;
      if (s.batch === 1) {
        const n = noop.get(s.name)?.workerdUsPerRequest;
        if (n === undefined) continue;
        const ratio = worker / n;
        console.log(
          `  ${s.name}: ${worker.toFixed(0)} µs per request vs no-op GET /health ${n.toFixed(0)} µs = ${ratio.toFixed(2)}× (target ≤ ${TARGET_SINGLE_EVENT_VS_NOOP}×): ${ratio <= TARGET_SINGLE_EVENT_VS_NOOP ? "met" : "NOT met"}`,
        );
      } else if (s.batch === 1000) {
        const target = TARGET_BATCH_US_PER_EVENT[s.route];
        console.log(
          `  ${s.name}: ${worker.toFixed(1)} µs per event (target ≤ ${target}${s.route === "capi" ? ", every customer-information field hashed" : ""}): ${worker <= target ? "met" : "NOT met"}`,
        );
      }
    }
    console.log(
      `Machine load (1-minute average, ${availableParallelism()} cores): ${loadBefore.toFixed(2)} before the measurements, ${loadavg()[0]?.toFixed(2)} after; other processes' load makes every row slower.`,
    );
  } finally {
    await mf?.dispose();
    if (keyHash) await redis.del(apiKeyRedisKey(keyHash)).catch(() => undefined);
    await deleteByPattern(redis, `dedup:${tenant}:*`).catch(() => undefined);
    upstash.child.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
