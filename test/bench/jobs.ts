/**
 * Benchmark: bulk scoring jobs end to end in workerd (Miniflare with the wrangler-built bundle, its
 * R2 and its queue delivering chunks to the Worker's consumer, job state in a schema of its own in
 * the machine's PostgreSQL through the Neon relay), driven by scripts/score-job.ts's client.
 *
 * Usage: npm run bench:jobs [-- --rows 200000]
 * Prints, per model (the demo model, and a 60-tree ensemble of depth 4 over 30 features):
 *   upload seconds, seconds from the 202 to the job seen done, and rows/s over the whole
 *   run (upload included) and after the upload.
 * Target: ≥ 50,000 rows/s over the whole run. On a shared machine the wall clock mostly measures
 * the other processes, so the workerd processes' CPU time is measured too (/proc): rows per CPU
 * second is the rate the Worker reaches with a core to itself.
 *
 * Needs Redis (REDIS_URL), the machine's PostgreSQL (postgres://postgres@127.0.0.1:5432/test) and
 * the Neon relay at NEON_WS_RELAY_URL (default ws://127.0.0.1:5488; `npm run services:up`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import pg from "pg";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import { parseCommandLine } from "../../scripts/command-line";
import { migrate } from "../../scripts/migrate";
import { runScoreJob } from "../../scripts/score-job";
import { treeClassifierGraph } from "../support/explain-models";
import { TEST_DATABASE_URL } from "../support/integration-env";
import { buildBundle, freePort, table, upstashEndpoint, workerFromBundle } from "./bench-support";
import { cpuMsOf, workerdPids } from "./ingest-load";

const USAGE = `Benchmark: bulk scoring jobs end to end in workerd (Miniflare: R2, the score-jobs queue and
the Worker's consumer; job state in PostgreSQL through the Neon relay).

Usage: npm run bench:jobs [-- --rows 200000]
Prints per model (the demo model; 60 trees of depth 4 over 30 features): upload seconds, seconds
from the 202 to the job seen done (polled every 200 ms), rows/s over the whole run and after the upload.
Target: ≥ 50,000 rows/s over the whole run; also printed per workerd CPU second (/proc), the
rate with a core to itself, since on a shared machine the wall clock measures the other processes.

Needs Redis (REDIS_URL), the machine's PostgreSQL (postgres://postgres@127.0.0.1:5432/test) and
the Neon relay at NEON_WS_RELAY_URL (default ws://127.0.0.1:5488; npm run services:up starts it).`;

const { values: args } = parseCommandLine({
  command: "npm run bench:jobs",
  usage: USAGE,
  options: { rows: { type: "string", default: "200000" } },
});
const ROWS = Number(args.rows);
const TARGET_ROWS_PER_SECOND = 50_000;

/** A deterministic pseudo-random stream in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function demoCsv(rows: number): string {
  const next = lcg(7);
  const devices = ["desktop", "mobile", "tablet"];
  const sources = ["organic", "paid_search", "social", "email", "direct"];
  const lines = [
    "entityId,sessions_7d,pages_per_session,time_on_site_s,cart_value,days_since_last_visit,is_returning,has_discount_code,hour_of_day,device,traffic_source",
  ];
  for (let i = 1; i <= rows; i++) {
    lines.push(
      [
        `u-${i}`,
        Math.floor(next() * 12),
        (next() * 8).toFixed(2),
        Math.floor(next() * 900),
        (next() * 300).toFixed(2),
        (next() * 60).toFixed(1),
        next() < 0.5 ? 0 : 1,
        next() < 0.8 ? 0 : 1,
        Math.floor(next() * 24),
        devices[Math.floor(next() * 3)],
        sources[Math.floor(next() * 5)],
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

function forestCsv(rows: number, columns: number): string {
  const next = lcg(61);
  const lines = [Array.from({ length: columns }, (_, i) => `f${i}`).join(",")];
  for (let i = 0; i < rows; i++) {
    lines.push(Array.from({ length: columns }, () => (next() * 4 - 2).toFixed(3)).join(","));
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "driftline-bench-jobs-"));
  const upstash = await upstashEndpoint();
  const redis = new Redis({ url: upstash.url, token: upstash.token, enableTelemetry: false });
  const schema = `bench_jobs_${Date.now().toString(36)}`;
  let mf: Miniflare | undefined;
  let keyHash: string | undefined;
  try {
    console.log("building the Worker with wrangler, migrating a schema of its own …");
    const [app] = await Promise.all([
      buildBundle(undefined, join(work, "app")),
      migrate({ databaseUrl: TEST_DATABASE_URL, schema }),
    ]);
    mf = new Miniflare(
      convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: await freePort(),
        workers: [
          {
            ...workerFromBundle("driftline", app, {
              UPSTASH_REDIS_REST_URL: upstash.url,
              UPSTASH_REDIS_REST_TOKEN: upstash.token,
              KAFKA_REST_URL: "http://127.0.0.1:1",
              DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
              NEON_WS_RELAY_URL: process.env.NEON_WS_RELAY_URL ?? "ws://127.0.0.1:5488",
              RATE_LIMIT_REQUESTS: "10000000",
              RATE_LIMIT_EVENTS: "1000000000",
              RATE_LIMIT_BYTES: "1000000000000",
            }),
            r2Buckets: ["MODELS", "JOBS"],
            queueProducers: {
              INGEST_QUEUE: "driftline-ingest",
              SCORE_JOBS_QUEUE: "driftline-score-jobs",
            },
            // As wrangler.toml declares the score-jobs consumer.
            queueConsumers: {
              "driftline-score-jobs": { maxBatchSize: 4, maxBatchTimeout: 1, maxRetries: 5 },
            },
          },
        ],
      }),
    );
    const base = (await mf.ready).origin;
    const { key, record } = await generateApiKey({
      tenant: `bench-jobs-${Date.now()}`,
      roles: ["admin", "score"],
    });
    keyHash = record.keyHash;
    await redis.set(apiKeyRedisKey(record.keyHash), record);

    const forest = treeClassifierGraph({ columns: 30, trees: 60, depth: 4, seed: 60 });
    const form = new FormData();
    form.set("model", new File([new Uint8Array(forest.bytes)], "model.onnx"));
    form.set("manifest", new File([JSON.stringify(forest.manifest)], "manifest.json"));
    const uploaded = await fetch(`${base}/v1/models/trees60/versions/1`, {
      method: "PUT",
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    if (uploaded.status !== 201) throw new Error(`model upload: ${await uploaded.text()}`);

    const files = [
      {
        label: "conversion (demo, logistic, 10 features)",
        model: "conversion",
        version: undefined,
        text: demoCsv(ROWS),
      },
      {
        label: "trees60 (60 trees of depth 4, 30 features)",
        model: "trees60",
        version: "1",
        text: forestCsv(ROWS, 30),
      },
    ];
    // A small job first: the isolate loads the wasm and the models before anything is timed.
    for (const f of files) {
      const warm = join(work, `warm-${f.model}.csv`);
      writeFileSync(warm, f.text.split("\n").slice(0, 2_001).join("\n"));
      await runScoreJob({
        baseUrl: base,
        key,
        model: f.model,
        ...(f.version ? { version: f.version } : {}),
        file: warm,
        output: null,
        pollMs: 100,
      });
    }

    const rows: (string | number)[][] = [];
    let worst = Number.POSITIVE_INFINITY;
    let worstPerCpu = Number.POSITIVE_INFINITY;
    for (const f of files) {
      const file = join(work, `${f.model}.csv`);
      writeFileSync(file, f.text);
      let uploadedAt = 0;
      let uploadCpu: number | undefined;
      const pids = workerdPids();
      const cpu0 = cpuMsOf(pids);
      const t0 = performance.now();
      const { job } = await runScoreJob({
        baseUrl: base,
        key,
        model: f.model,
        ...(f.version ? { version: f.version } : {}),
        file,
        output: null,
        pollMs: 200,
        onProgress: () => {
          if (uploadedAt !== 0) return;
          uploadedAt = performance.now();
          uploadCpu = cpuMsOf(pids);
        },
      });
      const total = (performance.now() - t0) / 1000;
      const cpu1 = cpuMsOf(pids);
      const cpuSeconds =
        cpu0 === undefined || cpu1 === undefined ? Number.NaN : (cpu1 - cpu0) / 1000;
      const upload = (uploadedAt - t0) / 1000;
      const scoring = total - upload;
      if (job.status !== "succeeded" || job.counts.scored !== ROWS) {
        throw new Error(
          `${f.model}: the job ended ${job.status} with ${JSON.stringify(job.counts)}`,
        );
      }
      const perSecond = ROWS / total;
      worst = Math.min(worst, perSecond);
      worstPerCpu = Math.min(worstPerCpu, ROWS / cpuSeconds);
      rows.push([
        f.label,
        ROWS,
        job.progress.chunksTotal,
        upload.toFixed(2),
        scoring.toFixed(2),
        total.toFixed(2),
        Math.round(perSecond),
        Math.round(ROWS / scoring),
        uploadCpu === undefined || cpu0 === undefined
          ? "?"
          : ((uploadCpu - cpu0) / 1000).toFixed(2),
        cpuSeconds.toFixed(2),
        Math.round(ROWS / cpuSeconds),
      ]);
    }
    console.log(
      `\nBulk scoring jobs end to end (CSV upload streamed to R2, ${rows[0]?.[2]} chunks, Miniflare's queue delivering 4 chunks per batch, job state in PostgreSQL)`,
    );
    console.log(
      table(
        [
          "model",
          "rows",
          "chunks",
          "upload s",
          "after upload s",
          "total s",
          "rows/s total",
          "rows/s after upload",
          "upload CPU s",
          "workerd CPU s",
          "rows per workerd CPU s",
        ],
        rows,
      ),
    );
    console.log(
      `Machine load average while measuring: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores (rows per workerd CPU second is what the Worker costs, whatever else the machine runs)`,
    );
    console.log(
      `\nTarget ≥ ${TARGET_ROWS_PER_SECOND.toLocaleString("en")} rows/s over the whole run: ${worst >= TARGET_ROWS_PER_SECOND ? "met" : "NOT met"} on the wall clock (slowest ${Math.round(worst).toLocaleString("en")} rows/s); ${worstPerCpu >= TARGET_ROWS_PER_SECOND ? "met" : "NOT met"} per workerd CPU second (slowest ${Math.round(worstPerCpu).toLocaleString("en")} rows/s), i.e. with a core to itself`,
    );
  } finally {
    await mf?.dispose();
    if (keyHash !== undefined) await redis.del(apiKeyRedisKey(keyHash)).catch(() => undefined);
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => db.end());
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
