/**
 * Benchmark: scoring in workerd, run straight on Miniflare's API with the wrangler-built bundle
 * (not through `wrangler dev`'s proxy, which adds ~5 ms per request).
 *
 * Usage: npm run bench:score [-- --requests 3000 --seconds 3 --concurrency 8]
 * Prints:
 *   1. per-row inference inside the isolate for the demo model and the linear, MLP and GBT
 *      fixtures, single row and batches of 100: ORT alone, the Worker's scorer (the direct
 *      evaluator for linear and tree graphs, ORT for the rest), and feature encoding + scorer;
 *   2. explanation cost per row inside the isolate per method (linear, tree, permutation), with a
 *      60-tree ensemble of depth 4 against 100 background rows built here;
 *   3. end-to-end p50/p99 and req/s of POST /v1/score (one row, one explained row, 100 rows)
 *      next to GET /health, measured in the same run, alternating request by request so machine
 *      noise hits all alike.
 * Targets: /v1/score (one row) p50 ≤ 1.2 × and req/s ≥ 0.7 × /health's, measured in the same run;
 * ≤ 20 µs per row in the isolate for the demo model;
 * ≤ 10 µs single-row inference with the direct evaluator; explanations per row: linear ≤ 20 µs,
 * 60 trees of depth 4 with 100 background rows ≤ 200 µs, MLP permutation ≤ 5 ms.
 *
 * Needs Redis on REDIS_URL (default redis://127.0.0.1:6379). Uses the Upstash REST server at
 * UPSTASH_REDIS_REST_URL when it answers, else starts one on a free port and stops it after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import conversionExamples from "../../models/conversion/1/examples.json";
import { parseCommandLine } from "../../scripts/command-line";
import { randomRows, treeClassifierGraph } from "../support/explain-models";
import {
  buildBundle,
  freePort,
  percentile,
  table,
  upstashEndpoint,
  workerFromBundle,
} from "./bench-support";

/** Printed by --help: the header above. */
const USAGE = `Benchmark: scoring in workerd, run straight on Miniflare's API with the wrangler-built bundle
(not through \`wrangler dev\`'s proxy, which adds ~5 ms per request).

Usage: npm run bench:score [-- --requests 3000 --seconds 3 --concurrency 8]
Prints:
  1. per-row inference inside the isolate (ORT alone, and feature encoding + ORT) for the demo
     model and the linear, MLP and GBT fixtures, single row and batches of 100;
  2. end-to-end p50/p99 and req/s of POST /v1/score (one row, and 100 rows) next to GET /health,
     measured in the same run, alternating request by request so machine noise hits all alike.
Targets: /v1/score p50 ≤ 1.5 × /health p50; ≤ 20 µs per row in the isolate for the demo model.

Needs Redis on REDIS_URL (default redis://127.0.0.1:6379). Uses the Upstash REST server at
UPSTASH_REDIS_REST_URL when it answers, else starts one on a free port and stops it after.`;

const { values: args } = parseCommandLine({
  command: "npm run bench:score",
  usage: USAGE,
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

    // A 60-tree ensemble of depth 4 over 30 features, explained against 100 background rows.
    const forest = treeClassifierGraph({ columns: 30, trees: 60, depth: 4, seed: 60 });
    const backgroundValues = randomRows(100, 30, 61);
    const forestManifest = {
      ...forest.manifest,
      background: Array.from({ length: 100 }, (_, r) =>
        Array.from(backgroundValues.subarray(r * 30, r * 30 + 30)),
      ),
    };
    const posted = await isolateBench.fetch("http://isolate/model?name=trees60", {
      method: "POST",
      body: JSON.stringify({
        manifest: forestManifest,
        bytes: Buffer.from(forest.bytes).toString("base64"),
      }),
    });
    if (posted.status !== 204) throw new Error(`isolate bench model: ${await posted.text()}`);

    // 1. Inside the isolate. A first pass lets V8 tier the ORT wasm up before anything counts.
    const isolateRows: (string | number)[][] = [];
    let demoUsPerRow = Number.NaN;
    let directSingleRow = 0;
    await isolateBench.fetch("http://isolate/?model=conversion&rows=1&runs=5000&repeats=3");
    for (const model of ["conversion", "linear", "mlp", "gbt"]) {
      for (const rows of [1, 100]) {
        const runs = rows === 1 ? 3_000 : 300;
        const res = await isolateBench.fetch(
          `http://isolate/?model=${model}&rows=${rows}&runs=${runs}`,
        );
        if (!res.ok) throw new Error(`isolate bench ${model}: ${await res.text()}`);
        const r = (await res.json()) as {
          evaluator: string;
          ortUsPerRow: { min: number; median: number };
          inferenceUsPerRow: { min: number; median: number };
          encodeAndInferUsPerRow: { min: number; median: number };
        };
        if (model === "conversion" && rows === 1) demoUsPerRow = r.encodeAndInferUsPerRow.min;
        if (r.evaluator === "direct" && rows === 1) {
          directSingleRow = Math.max(directSingleRow, r.inferenceUsPerRow.min);
        }
        isolateRows.push([
          model === "conversion" ? "conversion (demo, logistic)" : model,
          rows,
          r.ortUsPerRow.min.toFixed(2),
          r.evaluator,
          r.inferenceUsPerRow.min.toFixed(2),
          r.inferenceUsPerRow.median.toFixed(2),
          (r.ortUsPerRow.min / r.inferenceUsPerRow.min).toFixed(1),
          r.encodeAndInferUsPerRow.min.toFixed(2),
        ]);
      }
    }

    // 2. Explanations inside the isolate, per explained row (single-row requests).
    const explainRows: (string | number)[][] = [];
    const explainUs = new Map<string, number>();
    for (const [model, label, runs] of [
      ["conversion", "conversion (demo, 10 features, 100 background rows)", 2000],
      ["gbt", "gbt fixture (10 features, 100 background rows)", 50],
      ["trees60", "60 trees of depth 4 (30 features, 100 background rows)", 50],
      ["mlp", "mlp fixture (10 features)", 10],
    ] as const) {
      const res = await isolateBench.fetch(
        `http://isolate/explain?model=${model}&runs=${runs}&repeats=5`,
      );
      if (!res.ok) throw new Error(`isolate explain ${model}: ${await res.text()}`);
      const r = (await res.json()) as {
        method: string;
        stdError?: number;
        usPerRow: { min: number; median: number };
      };
      explainUs.set(model, r.usPerRow.min);
      explainRows.push([
        label,
        r.method,
        r.usPerRow.min.toFixed(1),
        r.usPerRow.median.toFixed(1),
        r.stdError === undefined ? "exact" : r.stdError.toExponential(1),
      ]);
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
        name: "POST /v1/score (1 row, explained)",
        method: "POST",
        path: "/v1/score",
        body: JSON.stringify({
          model: "conversion",
          entityId: "u-1",
          features: example,
          explain: true,
          explainTop: 3,
        }),
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
      "µs per row; min and median of 7 timed loops (ORT: 3000 runs for 1 row, 300 for 100 rows; the scorer: more runs until a loop takes 20 ms, the isolate clock ticking in 1 ms); scorer = the Worker's (direct evaluator for linear and tree graphs, verified against ORT on load)",
    );
    console.log(
      table(
        [
          "model",
          "rows",
          "ORT min",
          "scorer",
          "scorer min",
          "scorer median",
          "ORT / scorer",
          "encode+scorer min",
        ],
        isolateRows,
      ),
    );
    console.log(
      "\nExplanations inside the isolate, µs per explained row (min and median of 5 loops)",
    );
    console.log(
      table(["model", "method", "µs/row min", "µs/row median", "std error"], explainRows),
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
      `  demo model in the isolate = ${demoUsPerRow.toFixed(2)} µs/row, single row, encode + scorer, min (target ≤ 20): ${demoUsPerRow <= 20 ? "met" : "NOT met"}`,
    );
    console.log(
      `  single-row inference, direct evaluator (slowest of the linear and tree models) = ${directSingleRow.toFixed(2)} µs (target ≤ 10): ${directSingleRow <= 10 ? "met" : "NOT met"}`,
    );
    const explainTargets: [string, string, number][] = [
      ["conversion", "linear explanation", 20],
      ["trees60", "60 trees × depth 4 × 100 background rows", 200],
      ["mlp", "MLP permutation", 5000],
    ];
    for (const [model, label, target] of explainTargets) {
      const us = explainUs.get(model)!;
      console.log(
        `  ${label} = ${us.toFixed(1)} µs/row (target ≤ ${target}): ${us <= target ? "met" : "NOT met"}`,
      );
    }
    const explainedP50 = percentile(measured.get(targets[2]!.name)!, 0.5);
    console.log(
      `  explained / plain single-row p50 = ${(explainedP50 / scoreP50).toFixed(2)} (${explainedP50.toFixed(3)} ms against ${scoreP50.toFixed(3)} ms)`,
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
