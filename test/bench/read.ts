/**
 * Benchmark: the Worker's read API (drift, performance, metrics over a 24 h range) against a
 * Postgres schema seeded with generate_series: 48 h of minute windows holding ~1.7M events,
 * 100k predictions and ~100k drift rows. Runs the wrangler-built bundle on Miniflare (not through
 * `wrangler dev`'s proxy); every request opens and ends its own pool through a Neon relay, as on
 * Cloudflare. Prints p50/p99 per read.
 *
 * Then measures the console: its assets' gzipped size and its first load in Chromium.
 *
 *   npm run bench:read [-- --requests 200 --keep --only drift --no-dashboard]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Redis } from "@upstash/redis";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import pg from "pg";
import { chromium } from "playwright-core";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import { parseCommandLine } from "../../scripts/command-line";
import { startNeonWsRelay } from "../../scripts/local/neon-ws-relay";
import { migrate } from "../../scripts/migrate";
import { TEST_DATABASE_URL } from "../support/integration-env";
import {
  ascending,
  buildBundle,
  freePort,
  percentile,
  table,
  upstashEndpoint,
  workerFromBundle,
} from "./bench-support";

/** Printed by --help: the header above. */
const USAGE = `Benchmark: the Worker's read API (drift, performance, metrics over a 24 h range) against a
Postgres schema seeded with generate_series: 48 h of minute windows holding ~1.7M events,
100k predictions and ~100k drift rows. Runs the wrangler-built bundle on Miniflare (not through
\`wrangler dev\`'s proxy); every request opens and ends its own pool through a Neon relay, as on
Cloudflare. Prints p50/p99 per read.

  npm run bench:read [-- --requests 200 --keep]`;

const HOURS = 48;
const MINUTES = HOURS * 60;
/** Window keys per minute: 2 sources × 10 event names × 2 campaigns, 20–40 events each. */
const KEYS_PER_MINUTE = 20;
const PREDICTIONS = 100_000;
const FEATURES = 12;
const TARGET_P50_MS = 50;
const DASHBOARD_TARGET_MS = 1_000;
const DASHBOARD_TARGET_GZIP_BYTES = 300 * 1024;
const DASHBOARD_LOADS = 10;

const { values: args } = parseCommandLine({
  command: "npm run bench:read",
  usage: USAGE,
  options: {
    requests: { type: "string", default: "200" },
    warmup: { type: "string", default: "20" },
    keep: { type: "boolean", default: false },
    /** Only the reads whose name contains this text. */
    only: { type: "string", default: "" },
    /** Skip the dashboard's asset sizes and first load in Chromium. */
    "no-dashboard": { type: "boolean", default: false },
  },
});

/** Seeds one tenant's 48 h; every statement is one set-based INSERT. */
async function seed(
  db: pg.Client,
  tenant: string,
  endIso: string,
): Promise<Record<string, number>> {
  await db.query("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
  await db.query(
    `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
       campaign, event_count, late_count, match_quality_sum, match_quality_count, conversion_count)
     SELECT $1, 60, $2::timestamptz - m * interval '1 minute',
       CASE WHEN e % 2 = 0 THEN 'web' ELSE 'capi' END, 'Event' || (e % 10), 'camp' || (e / 10),
       20 + (m + e) % 21, (m + e) % 3, (20 + (m + e) % 21) * 6.5, 20 + (m + e) % 21, (m + e) % 5
     FROM generate_series(1, $3::int) m, generate_series(0, $4::int - 1) e`,
    [tenant, endIso, MINUTES, KEYS_PER_MINUTE],
  );
  await db.query(
    `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
       campaign, prediction_count)
     SELECT $1, 60, $2::timestamptz - m * interval '1 minute', 'predictions', 'predictions', '', 35
     FROM generate_series(1, $3::int) m`,
    [tenant, endIso, MINUTES],
  );
  await db.query(
    `INSERT INTO metric_window_values (tenant_id, window_seconds, window_start, source, event_name,
       campaign, currency, value_sum, value_count)
     SELECT tenant_id, 60, window_start, source, event_name, campaign, 'USD', event_count * 42.5,
       event_count
     FROM metric_windows WHERE tenant_id = $1 AND event_name = 'Event0'`,
    [tenant],
  );
  // The hourly rollup, as the processor's rollUpHours leaves it.
  await db.query(
    `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
       campaign, event_count, late_count, match_quality_sum, match_quality_count,
       prediction_count, conversion_count)
     SELECT tenant_id, 3600, date_trunc('hour', window_start), source, event_name, campaign,
       sum(event_count), sum(late_count), sum(match_quality_sum), sum(match_quality_count),
       sum(prediction_count), sum(conversion_count)
     FROM metric_windows WHERE tenant_id = $1 AND window_seconds = 60
     GROUP BY 1, 3, 4, 5, 6`,
    [tenant],
  );
  await db.query(
    `INSERT INTO metric_window_values (tenant_id, window_seconds, window_start, source, event_name,
       campaign, currency, value_sum, value_count)
     SELECT tenant_id, 3600, date_trunc('hour', window_start), source, event_name, campaign,
       currency, sum(value_sum), sum(value_count)
     FROM metric_window_values WHERE tenant_id = $1 AND window_seconds = 60
     GROUP BY 1, 3, 4, 5, 6, 7`,
    [tenant],
  );
  await db.query("INSERT INTO event_time_watermarks (tenant_id, max_event_time) VALUES ($1, $2)", [
    tenant,
    endIso,
  ]);
  await db.query(
    // Every prediction logged with 3 reasons (PREDICTION_LOG_REASONS=3), the explanations' worst case.
    `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
       reasons, predicted_at)
     SELECT $1, 'p' || i, 'conversion', '1', (i % 1000) / 1000.0,
       jsonb_build_object('sessions_7d', i % 17, 'device', 'mobile'),
       jsonb_build_array(
         jsonb_build_object('feature', 'f' || (i % 10), 'contribution', (i % 97) / 50.0 - 1),
         jsonb_build_object('feature', 'f' || ((i + 3) % 10), 'contribution', (i % 31) / 40.0 - 0.4),
         jsonb_build_object('feature', 'sessions_7d', 'contribution', (i % 17) / 100.0)),
       $2::timestamptz - i * ($4::float8 * 3600 / $3::int) * interval '1 second'
     FROM generate_series(1, $3::int) i`,
    [tenant, endIso, PREDICTIONS, HOURS],
  );
  // One sliding evaluation a minute: every feature and the score, PSI (with its bins), KS, JS.
  const bins = JSON.stringify({
    bins: { kind: "numeric", edges: [1, 2, 3, 5, 8, 13, 21, 34, 55] },
    epsilon: 1e-4,
    referenceProportions: Array(10).fill(0.1),
    currentProportions: [0.08, 0.12, 0.1, 0.1, 0.09, 0.11, 0.1, 0.1, 0.1, 0.1],
    terms: Array(10).fill(0.001),
  });
  await db.query(
    `INSERT INTO drift_results (tenant_id, model_name, version, feature, test, value, p_value,
       band, is_drift, bins, reference_size, current_size, window_kind, window_start, window_end,
       evaluated_at, evaluation_id, details)
     SELECT $1, 'conversion', '1', CASE WHEN f = 0 THEN '__score__' ELSE 'f' || f END, t.test,
       ((m * 7 + f) % 300) / 1000.0, CASE WHEN t.test = 'ks' THEN 0.2 END,
       CASE WHEN t.test = 'psi' THEN 'stable' END, false,
       CASE WHEN t.test = 'psi' THEN $3::jsonb END, 10000, 2000, 'sliding',
       x.ev - interval '30 minutes', x.ev, x.ev, 'ev' || m, '{"featureDrift": false}'::jsonb
     FROM generate_series(1, $4::int) m, generate_series(0, $5::int - 1) f,
       (VALUES ('psi'), ('ks'), ('js')) t(test),
       LATERAL (SELECT $2::timestamptz - m * interval '1 minute' AS ev) x`,
    [tenant, endIso, bins, MINUTES, FEATURES],
  );
  await db.query(
    `INSERT INTO performance_results (tenant_id, model_name, version, window_start, window_end,
       sample_size, positive_count, auc, log_loss, brier, calibration, details)
     SELECT $1, 'conversion', v::text, $2::timestamptz - h * interval '1 hour',
       $2::timestamptz - (h - 1) * interval '1 hour', 2000, 150, 0.74, 0.31, 0.08,
       '[{"lower":0,"upper":0.1,"count":900,"meanPredicted":0.05,"observedRate":0.04}]'::jsonb,
       '{"attributionWindowMs": 604800000}'::jsonb
     FROM generate_series(1, $3::int) h, generate_series(1, 2) v`,
    [tenant, endIso, HOURS],
  );
  await db.query("ANALYZE");
  const count = async (text: string) => Number((await db.query(text, [tenant])).rows[0].n);
  return {
    events: await count(
      "SELECT sum(event_count) AS n FROM metric_windows WHERE tenant_id = $1 AND window_seconds = 60",
    ),
    "metric window rows": await count(
      "SELECT count(*) AS n FROM metric_windows WHERE tenant_id = $1",
    ),
    predictions: await count("SELECT count(*) AS n FROM predictions WHERE tenant_id = $1"),
    "drift rows": await count("SELECT count(*) AS n FROM drift_results WHERE tenant_id = $1"),
    "performance rows": await count(
      "SELECT count(*) AS n FROM performance_results WHERE tenant_id = $1",
    ),
  };
}

async function main(): Promise<void> {
  const requests = Number(args.requests);
  const warmup = Number(args.warmup);
  const schema = `bench_read_${Date.now().toString(36)}`;
  const work = mkdtempSync(join(tmpdir(), "driftline-bench-read-"));
  const upstash = await upstashEndpoint();
  const redis = new Redis({ url: upstash.url, token: upstash.token, enableTelemetry: false });
  const relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  let mf: Miniflare | undefined;
  let keyHash: string | undefined;
  try {
    console.log(`migrating schema ${schema} and building the Worker …`);
    const [bundle] = await Promise.all([
      buildBundle(undefined, join(work, "app")),
      migrate({ databaseUrl: TEST_DATABASE_URL, schema }),
    ]);
    await db.query(`SET search_path = ${schema}`);
    const tenant = `bench-read-${Date.now().toString(36)}`;
    const endMs = Math.floor(Date.now() / 60_000) * 60_000;
    const seeded = performance.now();
    const counts = await seed(db, tenant, new Date(endMs).toISOString());
    console.log(
      `seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s: ${Object.entries(counts)
        .map(([k, v]) => `${v.toLocaleString("en")} ${k}`)
        .join(", ")}`,
    );

    mf = new Miniflare(
      convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: await freePort(),
        workers: [
          {
            ...workerFromBundle("driftline", bundle, {
              UPSTASH_REDIS_REST_URL: upstash.url,
              UPSTASH_REDIS_REST_TOKEN: upstash.token,
              KAFKA_REST_URL: "http://127.0.0.1:1",
              RATE_LIMIT_REQUESTS: "10000000",
              // The budgets are per key and the benchmark sends everything with one key.
              RATE_LIMIT_EVENTS: "1000000000",
              RATE_LIMIT_BYTES: "1000000000000",
              DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
              NEON_WS_RELAY_URL: relay.url,
            }),
            r2Buckets: ["MODELS"],
            queueProducers: { INGEST_QUEUE: "driftline-ingest" },
          },
        ],
      }),
    );
    const base = (await mf.ready).origin;
    const { key, record } = await generateApiKey({ tenant, roles: ["read"] });
    keyHash = record.keyHash;
    await redis.set(apiKeyRedisKey(record.keyHash), record);

    const from = new Date(endMs - 24 * 3_600_000).toISOString();
    const to = new Date(endMs).toISOString();
    const range = `from=${from}&to=${to}`;
    const targets = [
      { name: "drift, 24 h (limit 100)", path: `/v1/models/conversion/drift?${range}` },
      { name: "drift, 24 h (limit 1000)", path: `/v1/models/conversion/drift?${range}&limit=1000` },
      { name: "drift, 24 h, one feature", path: `/v1/models/conversion/drift?${range}&feature=f3` },
      { name: "performance, 24 h", path: `/v1/models/conversion/performance?${range}` },
      {
        name: "explanations, 24 h (100 newest + summary)",
        path: `/v1/models/conversion/explanations?${range}`,
      },
      { name: "metrics, 24 h by minute", path: `/v1/metrics?${range}` },
      {
        name: "metrics, 24 h by hour × event_name",
        path: `/v1/metrics?${range}&granularity=hour&groupBy=event_name`,
      },
    ];
    const rows: (string | number)[][] = [];
    let worstP50 = 0;
    for (const target of targets.filter((t) => t.name.includes(String(args.only)))) {
      const times: number[] = [];
      let answered = 0;
      for (let i = 0; i < warmup + requests; i++) {
        const started = performance.now();
        const res = await fetch(`${base}${target.path}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        const body = (await res.json()) as { data?: unknown[]; windows?: unknown[] };
        const ms = performance.now() - started;
        if (!res.ok) throw new Error(`${target.name}: ${res.status} ${JSON.stringify(body)}`);
        answered = (body.data ?? body.windows ?? []).length;
        if (i >= warmup) times.push(ms);
      }
      const sorted = ascending(times);
      const p50 = percentile(sorted, 0.5);
      worstP50 = Math.max(worstP50, p50);
      rows.push([
        target.name,
        answered,
        p50.toFixed(1),
        percentile(sorted, 0.99).toFixed(1),
        (times.reduce((a, b) => a + b, 0) / times.length).toFixed(1),
      ]);
    }
    console.log(
      `\n${requests} sequential requests per read after ${warmup} warm-up ones; ms per request, through the Worker (Miniflare), a pool per request\n`,
    );
    console.log(table(["read", "rows", "p50 ms", "p99 ms", "mean ms"], rows));
    console.log(
      `\nslowest p50 ${worstP50.toFixed(1)} ms (target ≤ ${TARGET_P50_MS} ms): ${worstP50 <= TARGET_P50_MS ? "met" : "MISSED"}`,
    );
    if (!args["no-dashboard"]) await measureDashboard(base, key);
  } finally {
    await mf?.dispose();
    if (keyHash !== undefined) await redis.del(apiKeyRedisKey(keyHash));
    if (args.keep) console.log(`kept schema ${schema}`);
    else await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    await relay.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The console's first load against the seeded tenant: the gzipped size of every asset the page
 * references, and in Chromium the time from navigating to /dashboard (signed in) until the
 * overview shows its numbers and its first chart, over fresh browser contexts (cold cache).
 */
async function measureDashboard(base: string, key: string): Promise<void> {
  const html = await (await fetch(`${base}/dashboard`)).text();
  const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map(
    (m) => m[1]!,
  );
  let raw = 0;
  let gzipped = 0;
  for (const path of [...new Set(assets)]) {
    const bytes = new Uint8Array(await (await fetch(`${base}${path}`)).arrayBuffer());
    raw += bytes.length;
    gzipped += gzipSync(bytes, { level: 9 }).length;
  }
  gzipped += gzipSync(html).length;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < DASHBOARD_LOADS + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const signIn = await context.request.post(`${base}/dashboard/session`, { data: { key } });
      if (!signIn.ok()) throw new Error(`sign-in answered ${signIn.status()}`);
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${base}/dashboard#/overview`);
      await page.waitForSelector("#view [data-page=overview] .stat-value");
      await page.waitForSelector("#view [data-page=overview] .uplot canvas");
      const ms = performance.now() - started;
      if (i > 0) times.push(ms); // the first load also warms the isolate
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const sorted = ascending(times);
  const p50 = percentile(sorted, 0.5);
  console.log(
    `\ndashboard: ${[...new Set(assets)].length + 1} files, ${(raw / 1024).toFixed(1)} KB raw, ${(gzipped / 1024).toFixed(1)} KB gzipped (target ≤ ${DASHBOARD_TARGET_GZIP_BYTES / 1024} KB): ${gzipped <= DASHBOARD_TARGET_GZIP_BYTES ? "met" : "MISSED"}`,
  );
  console.log(
    `dashboard first load, signed in, until the overview's numbers and chart show (${DASHBOARD_LOADS} cold contexts): p50 ${p50.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (target ≤ ${DASHBOARD_TARGET_MS} ms): ${p50 <= DASHBOARD_TARGET_MS ? "met" : "MISSED"}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
