// The retraining loop end to end on the real stack: Kafka (`retrain-requests` in the worker's own
// group), Postgres (through the Neon relay) and the edge Worker in workerd (uploads, promotions
// and scoring through its public API). Settled predictions are arranged in Postgres from rows the
// Worker actually scored; a request is published; the retraining worker trains, gates, rolls the
// candidate out as challenger through the Worker, and the Worker's own split then serves it.
// Labelled traffic scored by each arm decides: a better challenger is promoted and serves as
// champion; a worse one is rolled back and the champion is untouched. A deleted model and an
// uploaded (externally trained) model end in `needs-external-trainer` with an alert. A worker
// SIGKILLed mid-training resumes in a new process and deploys the candidate once.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConversionFeatures,
  type DriftSpec,
  generateRows,
} from "../../models/synthetic/conversion-data";
import { loadRetrainingConfig } from "../../retraining-worker/config";
import { type RetrainingWorker, startRetrainingWorker } from "../../retraining-worker/main";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../support/integration-env";
import { LOCAL_UPSTASH, newKey, WORKER_URL } from "../support/local-stack";

const ROOT = resolve(import.meta.dirname, "../..");

const MODEL = "shop-conversion";
const HOUR = 3_600_000;

/**
 * Concept drift strong enough that a stale model's log loss is clearly worse within a few
 * hundred labelled rows: conversions become common and several effects reverse.
 */
const CONCEPT_DRIFT: DriftSpec = {
  groundTruth: {
    intercept: -1.2,
    coefficients: {
      log1p_cart_value: -0.5,
      has_discount_code: -1.2,
      source_social: 1.2,
      device_mobile: 0.9,
      is_returning: -0.9,
    },
  },
};

const SHARE = 0.5;

function workerEnv(
  env: IntegrationEnv,
  extra: Record<string, string> = {},
): Record<string, string> {
  const base = env.env();
  return {
    DATABASE_URL: base.DATABASE_URL!,
    DATABASE_SCHEMA: base.DATABASE_SCHEMA!,
    NEON_WS_RELAY_URL: base.NEON_WS_RELAY_URL!,
    KAFKA_BROKERS: base.KAFKA_BROKERS!,
    KAFKA_TOPIC_PREFIX: env.prefix,
    RETRAIN_CONSUMER_GROUP: `${env.groupId}-retraining`,
    RETRAIN_SESSION_TIMEOUT_MS: "6000",
    RETRAIN_HEARTBEAT_INTERVAL_MS: "1000",
    DRIFTLINE_WORKER_URL: WORKER_URL,
    UPSTASH_REDIS_REST_URL: LOCAL_UPSTASH.url,
    UPSTASH_REDIS_REST_TOKEN: LOCAL_UPSTASH.token,
    RETRAIN_POLL_INTERVAL_MS: "100",
    RETRAIN_DECISION_INTERVAL_MS: "300",
    RETRAIN_LEASE_MS: "2000",
    RETRAIN_MIN_ROWS: "1000",
    RETRAIN_MIN_PER_CLASS: "20",
    RETRAIN_CHALLENGER_SHARE: String(SHARE),
    RETRAIN_DECISION_MIN_SAMPLE: "150",
    // The mixing scale matches the effect this test's drift makes (log loss ~0.3 apart); the
    // default (0.05) suits the subtler differences of production retrains.
    RETRAIN_DECISION_TAU: "0.2",
    RETRAIN_DECISION_MAX_DURATION_MS: "600000",
    RETRAIN_API_PORT: "0",
    LOG_LEVEL: "warn",
    ...extra,
  };
}

interface Tenant {
  id: string;
  key: string;
}

async function newTenant(env: IntegrationEnv, label: string): Promise<Tenant> {
  const id = `rt-${label}-${randomUUID().slice(0, 8)}`;
  const key = await newKey(id, ["admin", "score"]);
  await env.db.query("INSERT INTO tenants (tenant_id) VALUES ($1)", [id]);
  return { id, key };
}

async function api(tenant: Tenant, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${WORKER_URL}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${tenant.key}` },
  });
}

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Uploads a fixture as version 1 through the Worker, promotes it, and registers it in the test
 * schema as the processor's registry stage would (the Worker announces to the shared topics).
 */
async function deployChampion(
  env: IntegrationEnv,
  tenant: Tenant,
  fixture: string,
  manifestPatch: (m: Record<string, unknown>) => Record<string, unknown> = (m) => m,
): Promise<void> {
  const manifest = manifestPatch(
    JSON.parse(readFileSync(resolve(ROOT, "models", fixture, "manifest.json"), "utf8")),
  );
  const form = new FormData();
  form.set("model", new Blob([readFileSync(resolve(ROOT, "models", fixture, "model.onnx"))]));
  form.set("manifest", JSON.stringify(manifest));
  await json(await api(tenant, `/v1/models/${MODEL}/versions/1`, { method: "PUT", body: form }));
  await json(
    await api(tenant, `/v1/models/${MODEL}/promote`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: "1" }),
    }),
  );
  await env.db.query(
    `INSERT INTO model_versions (tenant_id, model_name, version, manifest, reference_bins, status)
     VALUES ($1, $2, '1', $3, $4, 'champion')`,
    [tenant.id, MODEL, JSON.stringify(manifest), JSON.stringify(manifest.reference ?? null)],
  );
}

interface Served {
  version: string;
  score: number;
}

/** Scores rows through the Worker in batches (all served by the champion before a rollout). */
async function scoreBatch(tenant: Tenant, rows: ConversionFeatures[]): Promise<Served[]> {
  const out: Served[] = [];
  for (let i = 0; i < rows.length; i += 1000) {
    const body = await json<{ version: string; predictions: { score: number }[] }>(
      await api(tenant, "/v1/score", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: MODEL,
          rows: rows.slice(i, i + 1000).map((f) => ({ features: f })),
        }),
      }),
    );
    for (const p of body.predictions) out.push({ version: body.version, score: p.score });
  }
  return out;
}

/** Scores one row per entity through the Worker, so its champion/challenger split applies. */
async function scoreEach(
  tenant: Tenant,
  rows: ConversionFeatures[],
  tag: string,
): Promise<Served[]> {
  const out: Served[] = new Array(rows.length);
  let next = 0;
  const lane = async () => {
    while (next < rows.length) {
      const i = next++;
      const body = await json<{ version: string; score: number }>(
        await api(tenant, "/v1/score", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL, entityId: `${tag}-${i}`, features: rows[i] }),
        }),
      );
      out[i] = { version: body.version, score: body.score };
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return out;
}

/** Stores scored rows as settled predictions (what the processor's label join leaves behind). */
async function settle(
  env: IntegrationEnv,
  tenant: Tenant,
  rows: { features: ConversionFeatures; label: number }[],
  served: Served[],
  predictedAtMs: (i: number) => number,
): Promise<void> {
  const ids = rows.map(() => randomUUID());
  await env.db.query(
    `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
       predicted_at, label, labelled_at)
     SELECT $1, id, $2, v, s, f::jsonb, 'epoch'::timestamptz + t * interval '1 millisecond', l,
       now() - interval '1 second'
     FROM unnest($3::text[], $4::text[], $5::float8[], $6::text[], $7::bigint[], $8::boolean[])
       AS d(id, v, s, f, t, l)`,
    [
      tenant.id,
      MODEL,
      ids,
      served.map((s) => s.version),
      served.map((s) => s.score),
      rows.map((r) => JSON.stringify(r.features)),
      rows.map((_, i) => Math.round(predictedAtMs(i))),
      rows.map((r) => r.label === 1),
    ],
  );
}

/** Settled history under concept drift, scored by the stale champion over the last 4 hours. */
async function arrangeDriftedHistory(
  env: IntegrationEnv,
  tenant: Tenant,
  seed: number,
): Promise<void> {
  const rows = generateRows({ seed, n: 4000, drift: CONCEPT_DRIFT });
  const served = await scoreBatch(
    tenant,
    rows.map((r) => r.features),
  );
  expect(new Set(served.map((s) => s.version))).toEqual(new Set(["1"]));
  const start = Date.now() - 4 * HOUR;
  await settle(env, tenant, rows, served, (i) => start + i * ((4 * HOUR - 60_000) / rows.length));
}

async function publishRequest(env: IntegrationEnv, tenant: Tenant): Promise<string> {
  const requestId = randomUUID();
  await env.produce(env.topics.retrainRequests, [
    {
      key: `${tenant.id}:${MODEL}`,
      value: JSON.stringify({
        schemaVersion: 1,
        requestId,
        tenant: tenant.id,
        model: MODEL,
        version: "1",
        policy: "auc-below(baseline - 0.05)",
        reasons: ["AUC fell below its floor"],
        evidence: { fired: [], observation: {} },
        requestedAt: new Date().toISOString(),
      }),
    },
  ]);
  return requestId;
}

async function statusOf(
  env: IntegrationEnv,
  tenant: Tenant,
  requestId: string,
): Promise<string | undefined> {
  const { rows } = await env.db.query<{ status: string }>(
    "SELECT status FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
    [tenant.id, requestId],
  );
  return rows[0]?.status;
}

async function waitForStatus(
  env: IntegrationEnv,
  tenant: Tenant,
  requestId: string,
  status: string,
  timeoutMs = 90_000,
): Promise<void> {
  const t0 = Date.now();
  let seen: string | undefined;
  try {
    await waitFor(
      `request ${requestId} to become ${status}`,
      async () => {
        seen = await statusOf(env, tenant, requestId);
        if (seen !== status && seen !== undefined && FINAL.includes(seen)) {
          const { rows } = await env.db.query(
            "SELECT status_reason FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
            [tenant.id, requestId],
          );
          throw new Error(`request ended ${seen} instead of ${status}: ${rows[0]?.status_reason}`);
        }
        return seen === status;
      },
      timeoutMs,
      50,
    );
  } catch (error) {
    // Say where the job stood: its last online look, its last error.
    const { rows } = await env.db.query(
      "SELECT state, last_error FROM retraining_jobs WHERE tenant_id = $1 AND request_id = $2",
      [tenant.id, requestId],
    );
    throw new Error(`${(error as Error).message} (status ${seen}; job ${JSON.stringify(rows[0])})`);
  }
  console.log(`${tenant.id}: ${status} after ${Date.now() - t0} ms`);
}

/** Statuses nothing moves on from (needs-external-trainer waits for an upload, so not here). */
const FINAL = ["rejected", "failed", "promoted", "rolled-back", "cancelled"];

async function history(env: IntegrationEnv, tenant: Tenant, requestId: string): Promise<string[]> {
  const { rows } = await env.db.query<{ status: string }>(
    "SELECT status FROM retrain_request_history WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq",
    [tenant.id, requestId],
  );
  return rows.map((r) => r.status);
}

async function alertTypes(env: IntegrationEnv, tenant: Tenant): Promise<string[]> {
  const { rows } = await env.db.query<{ type: string }>(
    `SELECT a.type FROM alerts a
     WHERE a.tenant_id = $1 AND EXISTS (SELECT 1 FROM monitoring_outbox o
       WHERE o.tenant_id = a.tenant_id AND o.ref_id = a.alert_id AND o.channel = 'alerts')
     ORDER BY a.created_at`,
    [tenant.id],
  );
  return rows.map((r) => r.type);
}

async function pointerOf(
  tenant: Tenant,
): Promise<{ champion: string; challenger?: { version: string; share: number } }> {
  const body = await json<{
    active: { pointer: { champion: string; challenger?: { version: string; share: number } } };
  }>(await api(tenant, `/v1/models/${MODEL}`));
  return body.active.pointer;
}

/** Labelled traffic scored by the Worker's split, settled now; `concept` decides the labels. */
async function labelledTraffic(
  env: IntegrationEnv,
  tenant: Tenant,
  seed: number,
  n: number,
  concept: DriftSpec | undefined,
): Promise<Served[]> {
  const rows = generateRows({ seed, n, ...(concept ? { drift: concept } : {}) });
  // A score key per batch: each key has its own request budget (1000 a minute by default).
  const key = await newKey(tenant.id, ["score"]);
  const served = await scoreEach(
    { ...tenant, key },
    rows.map((r) => r.features),
    `s${seed}`,
  );
  const now = Date.now();
  await settle(env, tenant, rows, served, () => now);
  return served;
}

/**
 * Labelled traffic keeps flowing, as in production, until the online test decides: batches of
 * `n` rows, each followed by a few decision intervals. Fails when six batches decide nothing.
 */
async function trafficUntil(
  env: IntegrationEnv,
  tenant: Tenant,
  requestId: string,
  status: string,
  concept: DriftSpec | undefined,
  seed: number,
): Promise<Served[]> {
  const served: Served[] = [];
  for (let batch = 0; batch < 6; batch++) {
    served.push(...(await labelledTraffic(env, tenant, seed + batch, 500, concept)));
    try {
      await waitForStatus(env, tenant, requestId, status, 5_000);
      return served;
    } catch (error) {
      if (!String(error).includes("timed out")) throw error;
    }
  }
  await waitForStatus(env, tenant, requestId, status, 1_000);
  return served;
}

describe("the retraining loop (in-process worker)", () => {
  let env: IntegrationEnv;
  let worker: RetrainingWorker;

  beforeAll(async () => {
    env = await startIntegrationEnv("retrain", 1);
    worker = await startRetrainingWorker(loadRetrainingConfig(workerEnv(env)));
  });

  afterAll(async () => {
    await worker?.stop();
    await env?.cleanup();
  });

  it("trains on drifted labels, serves the challenger within 10 s, and promotes it when it is better", async () => {
    const tenant = await newTenant(env, "promote");
    await deployChampion(env, tenant, "conversion/1");
    await arrangeDriftedHistory(env, tenant, 501);
    const requestId = await publishRequest(env, tenant);

    await waitForStatus(env, tenant, requestId, "challenger");
    const rolledOutAt = Date.now();
    expect(await pointerOf(tenant)).toMatchObject({
      champion: "1",
      challenger: { version: "2", share: SHARE },
    });
    // The Worker's isolates pick the pointer up within its cache TTL: the challenger serves.
    let servedByChallenger = 0;
    await waitFor(
      "the Worker to serve the challenger",
      async () => {
        const served = await scoreEach(
          tenant,
          generateRows({ seed: 3, n: 40 }).map((r) => r.features),
          `probe${Date.now()}`,
        );
        servedByChallenger = served.filter((s) => s.version === "2").length;
        return servedByChallenger > 0;
      },
      10_000,
      100,
    );
    const liveMs = Date.now() - rolledOutAt;
    console.log(`challenger live ${liveMs} ms after the rollout`);
    expect(liveMs).toBeLessThan(10_000);

    const served = await trafficUntil(env, tenant, requestId, "promoted", CONCEPT_DRIFT, 777);
    const share = served.filter((s) => s.version === "2").length / served.length;
    expect(share).toBeGreaterThan(SHARE - 0.1);
    expect(share).toBeLessThan(SHARE + 0.1);
    const promoted = await pointerOf(tenant);
    expect(promoted.champion).toBe("2");
    expect(promoted.challenger).toBeUndefined();
    const after = await scoreEach(
      tenant,
      generateRows({ seed: 4, n: 20 }).map((r) => r.features),
      "after",
    );
    await waitFor(
      "the Worker to serve version 2 as champion",
      async () => {
        const again = await scoreEach(
          tenant,
          generateRows({ seed: 4, n: 20 }).map((r) => r.features),
          `after${Date.now()}`,
        );
        return again.every((s) => s.version === "2");
      },
      10_000,
      200,
    );
    expect(after.length).toBe(20);
    expect(await history(env, tenant, requestId)).toEqual([
      "requested",
      "training",
      "candidate",
      "challenger",
      "promoted",
    ]);
    const { rows } = await env.db.query<{
      status_evidence: { test: { alwaysValidPValue: number; alpha: number } };
    }>("SELECT status_evidence FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2", [
      tenant.id,
      requestId,
    ]);
    expect(rows[0]!.status_evidence.test.alwaysValidPValue).toBeLessThanOrEqual(
      rows[0]!.status_evidence.test.alpha,
    );
    expect(await alertTypes(env, tenant)).toEqual([
      "dev.driftline.retraining.training",
      "dev.driftline.retraining.candidate",
      "dev.driftline.retraining.challenger",
      "dev.driftline.retraining.promoted",
    ]);
  }, 180_000);

  it("rolls a worse challenger back and leaves the champion untouched", async () => {
    const tenant = await newTenant(env, "rollback");
    await deployChampion(env, tenant, "conversion/1");
    await arrangeDriftedHistory(env, tenant, 502);
    const requestId = await publishRequest(env, tenant);
    await waitForStatus(env, tenant, requestId, "challenger");
    await new Promise((r) => setTimeout(r, 6_000)); // the Worker's pointer cache (5 s)

    // The drift reverses: traffic follows the relationship the champion learned.
    const served = await trafficUntil(env, tenant, requestId, "rolled-back", undefined, 1778);
    expect(served.some((s) => s.version === "2")).toBe(true);
    const kept = await pointerOf(tenant);
    expect(kept.champion).toBe("1");
    expect(kept.challenger).toBeUndefined();
    const { rows } = await env.db.query<{ status_reason: string }>(
      "SELECT status_reason FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
      [tenant.id, requestId],
    );
    expect(rows[0]!.status_reason).toMatch(/challenger is worse/);
    expect((await alertTypes(env, tenant)).at(-1)).toBe("dev.driftline.retraining.rolled-back");
  }, 180_000);

  it("sends a model trained elsewhere, and a deleted model, to needs-external-trainer with an alert", async () => {
    const external = await newTenant(env, "external");
    await deployChampion(env, external, "conversion/1", (m) => {
      const { training: _training, ...rest } = m;
      return rest;
    });
    const externalRequest = await publishRequest(env, external);
    await waitForStatus(env, external, externalRequest, "needs-external-trainer", 30_000);

    const deleted = await newTenant(env, "deleted");
    const deletedRequest = await publishRequest(env, deleted);
    await waitForStatus(env, deleted, deletedRequest, "needs-external-trainer", 30_000);

    for (const [tenant, id, reason] of [
      [external, externalRequest, /not trained by Driftline/],
      [deleted, deletedRequest, /no longer exists/],
    ] as const) {
      const { rows } = await env.db.query<{ status_reason: string }>(
        "SELECT status_reason FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
        [tenant.id, id],
      );
      expect(rows[0]!.status_reason).toMatch(reason);
      expect(await alertTypes(env, tenant)).toEqual([
        "dev.driftline.retraining.needs-external-trainer",
      ]);
    }
  });

  it("resumes the loop when a version trained elsewhere is uploaded naming the request", async () => {
    const tenant = await newTenant(env, "byo");
    await deployChampion(env, tenant, "conversion/1", (m) => {
      const { training: _training, ...rest } = m;
      return rest;
    });
    const requestId = await publishRequest(env, tenant);
    await waitForStatus(env, tenant, requestId, "needs-external-trainer", 30_000);
    // A team trains in Python and uploads version 2 naming the request; the registry mirror
    // (the processor's `model-registry` stage) stores its manifest.
    const manifest = {
      ...JSON.parse(readFileSync(resolve(ROOT, "models/fixtures/linear/manifest.json"), "utf8")),
      training: { algorithm: "sklearn-logistic", retrainingRequestId: requestId },
    };
    const form = new FormData();
    form.set("model", new Blob([readFileSync(resolve(ROOT, "models/fixtures/linear/model.onnx"))]));
    form.set("manifest", JSON.stringify(manifest));
    await json(await api(tenant, `/v1/models/${MODEL}/versions/2`, { method: "PUT", body: form }));
    await env.db.query(
      `INSERT INTO model_versions (tenant_id, model_name, version, manifest, status)
       VALUES ($1, $2, '2', $3, 'candidate')`,
      [tenant.id, MODEL, JSON.stringify(manifest)],
    );
    await waitForStatus(env, tenant, requestId, "challenger", 30_000);
    expect(await pointerOf(tenant)).toMatchObject({
      champion: "1",
      challenger: { version: "2", share: SHARE },
    });
    expect(await history(env, tenant, requestId)).toEqual([
      "requested",
      "needs-external-trainer",
      "candidate",
      "challenger",
    ]);
  });

  it("operator controls: pause holds a request, resume lets it go on, a challenger is rolled back by hand", async () => {
    const ops = (path: string, init: RequestInit = {}) => fetch(`${worker.apiUrl}${path}`, init);
    const tenant = await newTenant(env, "ops");
    await deployChampion(env, tenant, "conversion/1");
    await arrangeDriftedHistory(env, tenant, 504);
    const paused = await ops(`/v1/tenants/${tenant.id}/retraining-settings/*`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ paused: true }),
    });
    expect(await paused.json()).toEqual({
      tenant: tenant.id,
      model: "*",
      paused: true,
      approval: "auto",
    });
    const bad = await ops(`/v1/tenants/${tenant.id}/retraining-settings/${MODEL}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ approval: "sometimes" }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /approval/,
    );

    const held = await publishRequest(env, tenant);
    const cancelled = await publishRequest(env, tenant);
    await waitFor("both requests to be consumed", async () => {
      const { rows } = await env.db.query("SELECT 1 FROM retraining_jobs WHERE tenant_id = $1", [
        tenant.id,
      ]);
      return rows.length === 2;
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await statusOf(env, tenant, held)).toBe("requested");
    const cancel = await ops(`/v1/tenants/${tenant.id}/retraining-requests/${cancelled}/cancel`, {
      method: "POST",
    });
    expect(cancel.status).toBe(200);
    expect(await statusOf(env, tenant, cancelled)).toBe("cancelled");

    await ops(`/v1/tenants/${tenant.id}/retraining-settings/*`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ paused: false }),
    });
    await waitForStatus(env, tenant, held, "challenger", 60_000);
    const refused = await ops(`/v1/tenants/${tenant.id}/retraining-requests/${held}/cancel`, {
      method: "POST",
    });
    expect(refused.status).toBe(409);
    const rollback = await ops(`/v1/tenants/${tenant.id}/retraining-requests/${held}/rollback`, {
      method: "POST",
    });
    expect(rollback.status).toBe(202);
    await waitForStatus(env, tenant, held, "rolled-back", 30_000);
    const pointer = await pointerOf(tenant);
    expect(pointer.champion).toBe("1");
    expect(pointer.challenger).toBeUndefined();
    const { rows } = await env.db.query<{ status_reason: string }>(
      "SELECT status_reason FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
      [tenant.id, held],
    );
    expect(rows[0]!.status_reason).toBe("rolled back by an operator");
    expect(await alertTypes(env, tenant)).toEqual(
      expect.arrayContaining([
        "dev.driftline.retraining.cancelled",
        "dev.driftline.retraining.rolled-back",
      ]),
    );
    const unknown = await ops(`/v1/tenants/${tenant.id}/retraining-requests/nope/cancel`, {
      method: "POST",
    });
    expect(unknown.status).toBe(404);
  }, 120_000);

  it("rejects with the counts when too few labels have settled", async () => {
    const tenant = await newTenant(env, "few");
    await deployChampion(env, tenant, "conversion/1");
    const rows = generateRows({ seed: 9, n: 300, drift: CONCEPT_DRIFT });
    await settle(
      env,
      tenant,
      rows,
      await scoreBatch(
        tenant,
        rows.map((r) => r.features),
      ),
      (i) => Date.now() - HOUR + i,
    );
    const requestId = await publishRequest(env, tenant);
    await waitForStatus(env, tenant, requestId, "rejected", 30_000);
    const { rows: stored } = await env.db.query<{
      status_reason: string;
      status_evidence: { counts: { rows: number } };
    }>(
      "SELECT status_reason, status_evidence FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2",
      [tenant.id, requestId],
    );
    expect(stored[0]!.status_reason).toMatch(/300 usable settled rows, at least 1000 needed/);
    expect(stored[0]!.status_evidence.counts.rows).toBe(300);
  });

  it("consumes each request once: a redelivered request opens no second job", async () => {
    const tenant = await newTenant(env, "dup");
    const requestId = randomUUID();
    const message = {
      key: `${tenant.id}:${MODEL}`,
      value: JSON.stringify({
        schemaVersion: 1,
        requestId,
        tenant: tenant.id,
        model: MODEL,
        version: "1",
        policy: "p",
        reasons: [],
        evidence: {},
        requestedAt: new Date().toISOString(),
      }),
    };
    await env.produce(env.topics.retrainRequests, [
      message,
      message,
      { key: "x", value: "not json" },
    ]);
    await waitForStatus(env, tenant, requestId, "needs-external-trainer", 30_000);
    const { rows } = await env.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM retraining_jobs WHERE tenant_id = $1",
      [tenant.id],
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });
});

describe("a worker killed mid-training", () => {
  let env: IntegrationEnv;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    env = await startIntegrationEnv("retrainkill", 1);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await env?.cleanup();
  });

  const spawnWorker = () => {
    // One process (node with tsx's loader), so SIGKILL kills the worker itself, not a wrapper.
    const child = spawn(process.execPath, ["--import", "tsx", "retraining-worker/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...workerEnv(env) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
    return child;
  };

  it("resumes in a new process and deploys the candidate once", async () => {
    const tenant = await newTenant(env, "kill");
    // The MLP trains for long enough to be killed in the middle of it.
    await deployChampion(env, tenant, "fixtures/mlp");
    await arrangeDriftedHistory(env, tenant, 503);
    const first = spawnWorker();
    const requestId = await publishRequest(env, tenant);
    await waitForStatus(env, tenant, requestId, "training", 60_000);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    expect(await statusOf(env, tenant, requestId)).toBe("training");

    spawnWorker();
    await waitForStatus(env, tenant, requestId, "challenger", 120_000);
    const detail = await json<{ versions: { version: string }[] }>(
      await api(tenant, `/v1/models/${MODEL}`),
    );
    expect(detail.versions.map((v) => v.version).sort()).toEqual(["1", "2"]);
    expect(await pointerOf(tenant)).toMatchObject({
      champion: "1",
      challenger: { version: "2", share: SHARE },
    });
    expect(await history(env, tenant, requestId)).toEqual([
      "requested",
      "training",
      "candidate",
      "challenger",
    ]);
  }, 180_000);
});
