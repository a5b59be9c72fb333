/**
 * Benchmark: scoring in workerd, run straight on Miniflare's API with the wrangler-built bundle
 * (not through `wrangler dev`'s proxy, which adds ~5 ms per request).
 *
 * Usage: npm run bench:score [-- --requests 3000 --seconds 3 --concurrency 8]
 * Prints:
 *   1. per-row inference inside the isolate (ORT alone, and feature encoding + ORT) for the demo
 *      model and the linear, MLP and GBT fixtures, single row and batches of 100;
 *   2. end-to-end p50/p99 and req/s of POST /v1/score (one row, and 100 rows) next to GET /health,
 *      measured in the same run, alternating request by request so machine noise hits all alike.
 * Targets: /v1/score (one row) p50 ≤ 1.2 × and req/s ≥ 0.7 × /health's, measured in the same run;
 * ≤ 20 µs per row in the isolate for the demo model.
 *
 * Needs Redis on REDIS_URL (default redis://127.0.0.1:6379). Uses the Upstash REST server at
 * UPSTASH_REDIS_REST_URL when it answers, else starts one on a free port and stops it after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "@upstash/redis";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import conversionExamples from "../../models/conversion/1/examples.json";
import {
  buildBundle,
  freePort,
  percentile,
  table,
  upstashEndpoint,
  workerFromBundle,
} from "./bench-support";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "3000" },
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "8" },
  },
});
const REQUESTS = Number(args.requests);
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);

interface Target {
  name: string;
  method: "GET" | "POST";
  path: string;
  body?: string;
}

async function call(base: string, key: string, target: Target): Promise<void> {
  const res = await fetch(base + target.path, {
    method: target.method,
    headers: target.body
      ? { authorization: `Bearer ${key}`, "content-type": "application/json" }
      : {},
    body: target.body,
  });
  if (!res.ok)
    throw new Error(`${target.method} ${target.path} → ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/**
 * Sequential latencies, alternating request by request across targets, so that load from other
 * processes on the machine falls on every target alike.
 */
async function latencies(base: string, key: string, targets: Target[], perTarget: number) {
  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let i = 0; i < perTarget; i++) {
    for (const t of targets) {
      const started = performance.now();
      await call(base, key, t);
      samples.get(t.name)!.push(performance.now() - started);
    }
  }
  return new Map([...samples].map(([name, list]) => [name, list.sort((a, b) => a - b)]));
}

/** Requests per second with `concurrency` callers for `seconds`. */
async function throughput(
  base: string,
  key: string,
  target: Target,
  seconds: number,
): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await call(base, key, target);
        count++;
      }
    }),
  );
  return count / seconds;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "driftline-bench-"));
  const upstash = await upstashEndpoint();
  const redis = new Redis({ url: upstash.url, token: upstash.token, enableTelemetry: false });
  let mf: Miniflare | undefined;
  let keyHash: string | undefined;
  try {
    console.log("building the Worker and the isolate benchmark with wrangler …");
    const [app, isolate] = await Promise.all([
      buildBundle(undefined, join(work, "app")),
      buildBundle("test/bench/score-isolate-worker.ts", join(work, "isolate")),
    ]);
    const vars = {
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: upstash.token,
      KAFKA_REST_URL: "http://127.0.0.1:1",
      // The benchmark measures scoring, not the limiter refusing it.
      RATE_LIMIT_REQUESTS: "10000000",
      // The budgets are per key and the benchmark sends everything with one key.
      RATE_LIMIT_EVENTS: "1000000000",
      RATE_LIMIT_BYTES: "1000000000000",
    };
    mf = new Miniflare(
      convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: await freePort(),
        workers: [
          {
            ...workerFromBundle("driftline", app, vars),
            r2Buckets: ["MODELS"],
            queueProducers: { INGEST_QUEUE: "driftline-ingest" },
          },
          workerFromBundle("isolate-bench", isolate, {}),
        ],
      }),
    );
    const base = (await mf.ready).origin;
    const isolateBench = await mf.getWorker("isolate-bench");

    const { key, record } = await generateApiKey({
      tenant: `bench-${Date.now()}`,
      roles: ["score"],
    });
    keyHash = record.keyHash;
    await redis.set(apiKeyRedisKey(record.keyHash), record);

    // 1. Inside the isolate. A first pass lets V8 tier the ORT wasm up before anything counts.
    const isolateRows: (string | number)[][] = [];
    let demoUsPerRow = Number.NaN;
    await isolateBench.fetch("http://isolate/?model=conversion&rows=1&runs=5000&repeats=3");
    for (const model of ["conversion", "linear", "mlp", "gbt"]) {
      for (const rows of [1, 100]) {
        const runs = rows === 1 ? 3_000 : 300;
        const res = await isolateBench.fetch(
          `http://isolate/?model=${model}&rows=${rows}&runs=${runs}`,
        );
        if (!res.ok) throw new Error(`isolate bench ${model}: ${await res.text()}`);
        const r = (await res.json()) as {
          inferenceUsPerRow: { min: number; median: number };
          encodeAndInferUsPerRow: { min: number; median: number };
        };
        if (model === "conversion" && rows === 1) demoUsPerRow = r.encodeAndInferUsPerRow.min;
        isolateRows.push([
          model === "conversion" ? "conversion (demo, logistic)" : model,
          rows,
          r.inferenceUsPerRow.min.toFixed(2),
          r.inferenceUsPerRow.median.toFixed(2),
          r.encodeAndInferUsPerRow.min.toFixed(2),
          r.encodeAndInferUsPerRow.median.toFixed(2),
        ]);
      }
    }

    // 2. End to end.
    const example = conversionExamples.examples[0]!.features;
    const targets: Target[] = [
      { name: "GET /health (no-op)", method: "GET", path: "/health" },
      {
        name: "POST /v1/score (1 row)",
        method: "POST",
        path: "/v1/score",
        body: JSON.stringify({ model: "conversion", entityId: "u-1", features: example }),
      },
      {
        name: "POST /v1/score (100 rows)",
        method: "POST",
        path: "/v1/score",
        body: JSON.stringify({
          model: "conversion",
          rows: Array.from({ length: 100 }, (_, i) => ({
            entityId: `u-${i}`,
            features: conversionExamples.examples[i % conversionExamples.examples.length]!.features,
          })),
        }),
      },
    ];
    // Warm-up: first session, JIT, connection pool, caches.
    await latencies(base, key, targets, 300);
    const measured = await latencies(base, key, targets, REQUESTS);
    const rates = new Map<string, number>();
    // One-second rounds, alternating the targets, so machine noise hits every target alike.
    for (let round = 0; round < SECONDS; round++) {
      for (const t of targets) {
        rates.set(t.name, (rates.get(t.name) ?? 0) + (await throughput(base, key, t, 1)) / SECONDS);
      }
    }

    console.log(
      "\nInference inside the workerd isolate (onnxruntime-web 1.30, wasm SIMD, 1 thread)",
    );
    console.log(
      "µs per row; min and median of 7 timed loops (3000 runs for 1 row, 300 for 100 rows)",
    );
    console.log(
      table(
        ["model", "rows", "ORT min", "ORT median", "encode+ORT min", "encode+ORT median"],
        isolateRows,
      ),
    );
    console.log(
      `\nEnd to end over HTTP to workerd (Miniflare, keep-alive; ${REQUESTS} sequential requests each, alternating; req/s with ${CONCURRENCY} concurrent callers, ${SECONDS} one-second rounds alternating)`,
    );
    console.log(
      table(
        ["route", "p50 ms", "p99 ms", "req/s"],
        targets.map((t) => {
          const s = measured.get(t.name)!;
          return [
            t.name,
            percentile(s, 0.5).toFixed(3),
            percentile(s, 0.99).toFixed(3),
            Math.round(rates.get(t.name)!),
          ];
        }),
      ),
    );
    const healthP50 = percentile(measured.get(targets[0]!.name)!, 0.5);
    const scoreP50 = percentile(measured.get(targets[1]!.name)!, 0.5);
    const ratio = scoreP50 / healthP50;
    const rateRatio = rates.get(targets[1]!.name)! / rates.get(targets[0]!.name)!;
    console.log("\nTargets");
    console.log(
      `  /v1/score (1 row) p50 / no-op p50 = ${ratio.toFixed(2)} (target ≤ 1.2): ${ratio <= 1.2 ? "met" : "NOT met"}`,
    );
    console.log(
      `  /v1/score (1 row) req/s / no-op req/s = ${rateRatio.toFixed(2)} (target ≥ 0.7): ${rateRatio >= 0.7 ? "met" : "NOT met"}`,
    );
    console.log(
      `  demo model in the isolate = ${demoUsPerRow.toFixed(2)} µs/row, single row, encode + ORT, min (target ≤ 20): ${demoUsPerRow <= 20 ? "met" : "NOT met"}`,
    );
  } finally {
    if (keyHash) await redis.del(apiKeyRedisKey(keyHash)).catch(() => undefined);
    await mf?.dispose();
    upstash.child?.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
