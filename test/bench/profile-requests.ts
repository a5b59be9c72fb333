/**
 * Where a request's CPU goes inside the Worker's isolate: V8 CPU profiles (through workerd's
 * inspector) of single requests of each kind, summed by function.
 *
 * Usage: npm run bench:profile [-- --requests 2000 --top 25 --out profiles/]
 * For GET /health (the no-op), POST /v1/score (one row), POST /v1/events (one event) and
 * POST /v1/capi/{pixel}/events (one event, every customer-information field raw): warms up,
 * then profiles `--requests` sequential requests and prints, per request, the isolate's JS time
 * (samples × interval, garbage collection included, idle excluded) and the functions with the
 * most self and total time. With `--out`, writes each `.cpuprofile` there (Chrome DevTools, VS
 * Code). CPU outside the isolate (workerd's HTTP, subrequests, queue broker) is not in a JS profile;
 * `bench:ingest` and `bench:score` measure the whole process.
 *
 * Needs Redis on REDIS_URL (default redis://127.0.0.1:6379); starts its own Upstash REST server.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "@upstash/redis";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import conversionExamples from "../../models/conversion/1/examples.json";
import { buildBundle, freePort, startUpstashRest, table, workerFromBundle } from "./bench-support";
import { type CpuProfile, summarise } from "./cpu-profile-summary";
import { bodyTemplate, UA } from "./ingest-workload";
import { startWorkerProfile } from "./worker-profile";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    top: { type: "string", default: "20" },
    out: { type: "string" },
  },
});
const REQUESTS = Number(args.requests);
const TOP = Number(args.top);
const QUEUE = "driftline-ingest";

interface Kind {
  name: string;
  request: (i: number) => Request;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "driftline-bench-profile-"));
  const upstash = await startUpstashRest();
  const redis = new Redis({ url: upstash.url, token: upstash.token, enableTelemetry: false });
  const inspectorPort = await freePort();
  let mf: Miniflare | undefined;
  let keyHash: string | undefined;
  try {
    console.log("building the Worker with wrangler (deploy --dry-run) …");
    const bundle = await buildBundle(undefined, join(work, "bundle"));
    mf = new Miniflare(
      convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: await freePort(),
        inspectorPort,
        workers: [
          {
            ...workerFromBundle("driftline", bundle, {
              UPSTASH_REDIS_REST_URL: upstash.url,
              UPSTASH_REDIS_REST_TOKEN: upstash.token,
              KAFKA_REST_URL: "http://127.0.0.1:1",
              RATE_LIMIT_REQUESTS: "10000000",
              RATE_LIMIT_EVENTS: "1000000000",
              RATE_LIMIT_BYTES: "1000000000000",
              EVENT_DEDUP_TTL_SECONDS: "600",
            }),
            r2Buckets: ["MODELS"],
            queueProducers: { INGEST_QUEUE: QUEUE },
          },
          {
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
    const tenant = `bench-profile-${Date.now()}`;
    const { key, record } = await generateApiKey({ tenant, roles: ["score", "ingest"] });
    keyHash = record.keyHash;
    await redis.set(apiKeyRedisKey(record.keyHash), record);

    const headers = {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "user-agent": UA,
      "cf-connecting-ip": "198.51.100.7",
    };
    const web = bodyTemplate("web", 1);
    const capi = bodyTemplate("capi", 1);
    const scoreBody = JSON.stringify({
      model: "conversion",
      entityId: "u-1",
      features: conversionExamples.examples[0]!.features,
    });
    const post = (path: string, body: string) =>
      new Request(base + path, { method: "POST", headers, body });
    const kinds: Kind[] = [
      { name: "GET /health (no-op)", request: () => new Request(`${base}/health`) },
      { name: "POST /v1/score (1 row)", request: () => post("/v1/score", scoreBody) },
      { name: "POST /v1/events (1 event)", request: (i) => post("/v1/events", web.join(`p${i}`)) },
      {
        name: "POST /v1/capi/{pixel}/events (1 event)",
        request: (i) => post("/v1/capi/1234567890/events", capi.join(`p${i}`)),
      },
    ];
    let sent = 0;
    const send = async (kind: Kind) => {
      const res = await fetch(kind.request(sent++));
      if (!res.ok) throw new Error(`${kind.name} → ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    };
    for (const kind of kinds) for (let i = 0; i < 300; i++) await send(kind);

    const rows: (string | number)[][] = [];
    const details: string[] = [];
    if (args.out) mkdirSync(args.out, { recursive: true });
    for (const kind of kinds) {
      const profiler = await startWorkerProfile(inspectorPort, "driftline");
      for (let i = 0; i < REQUESTS; i++) await send(kind);
      const profile = (await profiler.stop()) as CpuProfile;
      if (args.out) {
        const file = join(args.out, `${kind.name.replace(/[^a-z0-9]+/gi, "-")}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
      }
      const s = summarise(profile, REQUESTS);
      rows.push([kind.name, s.busyUs.toFixed(0)]);
      details.push(
        `\n${kind.name}: ${s.busyUs.toFixed(0)} µs of isolate JS per request\n` +
          table(
            ["self time (function)", "µs/req", "total time (function)", "µs/req"],
            Array.from({ length: TOP }, (_, i) => [
              s.self[i]?.[0] ?? "",
              s.self[i]?.[1].toFixed(1) ?? "",
              s.total[i]?.[0] ?? "",
              s.total[i]?.[1].toFixed(1) ?? "",
            ]),
            [0, 2],
          ),
      );
    }
    console.log(
      `\nIsolate JS time per request (V8 sampling profiler, 100 µs interval, ${REQUESTS} sequential requests each)`,
    );
    console.log(table(["request", "µs/req"], rows));
    for (const d of details) console.log(d);
  } finally {
    await mf?.dispose();
    if (keyHash) await redis.del(apiKeyRedisKey(keyHash)).catch(() => undefined);
    upstash.child.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
