/**
 * `npm run bench:retrain`: time from a retraining request to its challenger serving, per model
 * family, for 50,000 settled predictions of 30 features, and the worker's peak memory.
 *
 * Real parts: Kafka (the request), Postgres (the settled rows, through the Neon relay), the
 * retraining worker as its own process (peak RSS from /proc/<pid>/status VmHWM) and the edge
 * Worker at WORKER_URL (upload, promotion, scoring). Needs the local stack up (`npm start`, or
 * the services `npm test` starts with DRIFTLINE_KEEP_SERVICES=1).
 * Targets: ≤ 60 s for logistic regression and boosted trees, ≤ 1 GB.
 * BENCH_RETRAIN_ROWS (50000) and BENCH_RETRAIN_FAMILIES (logistic-regression,gbt,mlp) override.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ManifestFeature } from "#core/model-manifest";
import { createRandom } from "#core/random";
import { type TrainableAlgorithm, trainCandidate } from "#core/retraining";
import { buildReference } from "#core/training";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { startIntegrationEnv, waitFor } from "../support/integration-env";
import { freePort, ROOT, table } from "./bench-support";

const stack = loadLocalStackConfig();
const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
const UPSTASH = {
  url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
};
const ROWS = Number(process.env.BENCH_RETRAIN_ROWS ?? 50_000);
const FAMILIES = (process.env.BENCH_RETRAIN_FAMILIES ?? "logistic-regression,gbt,mlp").split(
  ",",
) as TrainableAlgorithm[];
const NUMERIC = 26;
const LEVELS = ["a", "b", "c", "d"];
const MODEL = "bench-retrain";

/** 26 numeric features and 4 categoricals of 4 levels: 30 model inputs. */
const FEATURES: ManifestFeature[] = [
  ...Array.from({ length: NUMERIC }, (_, j) => ({ name: `x${j}`, type: "number" as const })),
  ...Array.from({ length: 4 }, (_, j) => ({
    name: `c${j}`,
    type: "categorical" as const,
    categories: LEVELS,
  })),
];

type Row = Record<string, number | string>;

/** Rows with a logistic truth; `drifted` flips half of the effects (concept drift). */
function rows(n: number, seed: number, drifted: boolean): { x: Row; label: number }[] {
  const random = createRandom(seed);
  const out: { x: Row; label: number }[] = [];
  for (let i = 0; i < n; i++) {
    const x: Row = {};
    let z = -1.5;
    for (let j = 0; j < NUMERIC; j++) {
      const v = random.normal();
      x[`x${j}`] = Math.round(v * 1e4) / 1e4;
      const beta = (j % 5 === 0 ? 0.6 : 0.15) * (drifted && j % 2 === 0 ? -1 : 1);
      z += beta * v;
    }
    for (let j = 0; j < 4; j++) {
      const k = random.int(4);
      x[`c${j}`] = LEVELS[k]!;
      z += (k - 1.5) * 0.2 * (drifted && j === 0 ? -1 : 1);
    }
    out.push({ x, label: random.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0 });
  }
  return out;
}

function encode(x: Row): number[] {
  return FEATURES.map((f) =>
    f.type === "number" ? (x[f.name] as number) : LEVELS.indexOf(x[f.name] as string),
  );
}

async function api(key: string, path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${WORKER_URL}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${key}` },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

interface Result {
  family: string;
  /** From the status history: publish → training, training → candidate, candidate → challenger. */
  phasesMs: [number, number, number];
  trainingMs: number;
  challengerMs: number;
  servingMs: number;
  peakMb: number;
}

async function benchFamily(family: TrainableAlgorithm): Promise<Result> {
  const env = await startIntegrationEnv(`bench${family.slice(0, 3)}`, 1);
  const tenant = `bench-${family.slice(0, 3)}-${randomUUID().slice(0, 8)}`;
  const { key } = await createApiKey({
    tenant,
    roles: ["admin", "score"],
    origins: [],
    redis: UPSTASH,
  });
  try {
    // The champion: the same family trained before the drift.
    const before = rows(5_000, 1, false);
    const xs = before.map((r) => encode(r.x));
    const champion = trainCandidate({
      algorithm: family,
      features: FEATURES,
      x: { rows: xs.length, cols: FEATURES.length, data: Float64Array.from(xs.flat()) },
      y: before.map((r) => r.label),
      seed: 1,
      graphName: "bench-champion",
    });
    const manifest = {
      input: "features",
      output: { name: "probability", index: champion.outputIndex },
      features: FEATURES,
      training: { algorithm: family },
      reference: buildReference(
        FEATURES,
        before.map((r) => r.x),
        xs.map((x) => champion.predict(x)),
        { seed: 1 },
      ),
    };
    const form = new FormData();
    form.set("model", new Blob([new Uint8Array(champion.onnx)]));
    form.set("manifest", JSON.stringify(manifest));
    await api(key, `/v1/models/${MODEL}/versions/1`, { method: "PUT", body: form });
    await api(key, `/v1/models/${MODEL}/promote`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: "1" }),
    });
    await env.db.query("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
    await env.db.query(
      `INSERT INTO model_versions (tenant_id, model_name, version, manifest, status)
       VALUES ($1, $2, '1', $3, 'champion')`,
      [tenant, MODEL, JSON.stringify(manifest)],
    );
    // 50k settled rows after the drift, with the champion's scores, over the last 10 hours.
    const settled = rows(ROWS, 2, true);
    const start = Date.now() - 10 * 3_600_000;
    for (let i = 0; i < settled.length; i += 5_000) {
      const chunk = settled.slice(i, i + 5_000);
      await env.db.query(
        `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
           predicted_at, label, labelled_at)
         SELECT $1, gen_random_uuid()::text, $2, '1', s, f::jsonb,
           'epoch'::timestamptz + t * interval '1 millisecond', l, now() - interval '1 minute'
         FROM unnest($3::float8[], $4::text[], $5::bigint[], $6::boolean[]) AS d(s, f, t, l)`,
        [
          tenant,
          MODEL,
          chunk.map((r) => champion.predict(encode(r.x))),
          chunk.map((r) => JSON.stringify(r.x)),
          chunk.map((_, k) => start + (i + k) * 600),
          chunk.map((r) => r.label === 1),
        ],
      );
    }

    const port = await freePort();
    const base = env.env();
    const worker = spawn(process.execPath, ["--import", "tsx", "retraining-worker/main.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        DATABASE_URL: base.DATABASE_URL,
        DATABASE_SCHEMA: base.DATABASE_SCHEMA,
        NEON_WS_RELAY_URL: base.NEON_WS_RELAY_URL,
        KAFKA_BROKERS: base.KAFKA_BROKERS,
        KAFKA_TOPIC_PREFIX: env.prefix,
        RETRAIN_CONSUMER_GROUP: `${env.groupId}-retraining`,
        RETRAIN_SESSION_TIMEOUT_MS: "6000",
        RETRAIN_HEARTBEAT_INTERVAL_MS: "1000",
        DRIFTLINE_WORKER_URL: WORKER_URL,
        UPSTASH_REDIS_REST_URL: UPSTASH.url,
        UPSTASH_REDIS_REST_TOKEN: UPSTASH.token,
        RETRAIN_POLL_INTERVAL_MS: "100",
        RETRAIN_MAX_ROWS: String(ROWS + 1),
        RETRAIN_LEASE_MS: "600000",
        RETRAIN_API_PORT: String(port),
        LOG_LEVEL: "warn",
      },
    });
    try {
      await waitFor(
        "the worker to be ready",
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${port}/ready`)).ok;
          } catch {
            return false;
          }
        },
        60_000,
      );
      const requestId = randomUUID();
      const t0 = performance.now();
      const publishedAtMs = Date.now();
      await env.produce(env.topics.retrainRequests, [
        {
          key: `${tenant}:${MODEL}`,
          value: JSON.stringify({
            schemaVersion: 1,
            requestId,
            tenant,
            model: MODEL,
            version: "1",
            policy: "bench",
            reasons: [],
            evidence: {},
            requestedAt: new Date().toISOString(),
          }),
        },
      ]);
      let status = "";
      await waitFor(
        "the challenger",
        async () => {
          const { rows: r } = await env.db.query<{ status: string; status_reason: string }>(
            "SELECT status, status_reason FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
            [tenant, requestId],
          );
          status = r[0]?.status ?? "";
          if (["rejected", "failed", "needs-external-trainer"].includes(status)) {
            throw new Error(`${family}: ${status}: ${r[0]?.status_reason}`);
          }
          return status === "challenger";
        },
        600_000,
        50,
      );
      const challengerMs = performance.now() - t0;
      let probe = 0;
      await waitFor(
        "the Worker to serve the challenger",
        async () => {
          for (let i = 0; i < 20; i++) {
            const res = await api(key, "/v1/score", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                model: MODEL,
                entityId: `probe-${probe++}`,
                features: settled[i]!.x,
              }),
            });
            if (((await res.json()) as { version: string }).version !== "1") return true;
          }
          return false;
        },
        30_000,
        50,
      );
      const servingMs = performance.now() - t0;
      const peakMb = peakRssMb(worker.pid!);
      const { rows: ev } = await env.db.query<{ evidence: { trainingMs?: number } }>(
        `SELECT evidence FROM retrain_request_history WHERE tenant_id = $1 AND request_id = $2
         AND status = 'candidate'`,
        [tenant, requestId],
      );
      const { rows: history } = await env.db.query<{ status: string; at_ms: string }>(
        `SELECT status, (extract(epoch FROM at) * 1000)::bigint AS at_ms
         FROM retrain_request_history WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq`,
        [tenant, requestId],
      );
      const at = (status: string) => Number(history.find((h) => h.status === status)?.at_ms);
      return {
        family,
        phasesMs: [
          at("training") - publishedAtMs,
          at("candidate") - at("training"),
          at("challenger") - at("candidate"),
        ],
        trainingMs: ev[0]?.evidence.trainingMs ?? Number.NaN,
        challengerMs,
        servingMs,
        peakMb,
      };
    } finally {
      worker.kill("SIGTERM");
      await new Promise((r) => worker.once("exit", r));
    }
  } finally {
    await env.cleanup();
  }
}

const results: Result[] = [];
for (const family of FAMILIES) {
  console.log(`${family}: ${ROWS} settled rows × ${FEATURES.length} features…`);
  results.push(await benchFamily(family));
}
console.log(
  `\nRetraining: request → challenger live (${ROWS} settled rows × ${FEATURES.length} features)`,
);
console.log(
  table(
    [
      "family",
      "consume+checks s",
      "read+train+gate s",
      "of which training s",
      "upload+promote s",
      "request→challenger s",
      "request→serving s",
      "worker peak RSS MB",
      "target",
    ],
    results.map((r) => [
      r.family,
      (r.phasesMs[0] / 1000).toFixed(1),
      (r.phasesMs[1] / 1000).toFixed(1),
      (r.trainingMs / 1000).toFixed(1),
      (r.phasesMs[2] / 1000).toFixed(1),
      (r.challengerMs / 1000).toFixed(1),
      (r.servingMs / 1000).toFixed(1),
      r.peakMb.toFixed(0),
      r.family === "mlp" ? "≤ 1024 MB" : "≤ 60 s, ≤ 1024 MB",
    ]),
  ),
);
process.exit(0);
