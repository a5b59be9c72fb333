/**
 * The read API inside workerd against real Postgres (the test schema, through the local relay)
 * and real Redis for keys: every route's body, tenant isolation, validation, paging and roles.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { metricsResponseSchema } from "#core/read-models";
import { sql } from "./read-db";
import { createKey, type ErrorJson, testApp, uniqueTenant } from "./support";

const worker = (exports as unknown as { default: Fetcher }).default;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.now();
const MODEL = "conversion";
const FEATURES = ["age", "__score__"] as const;
const EVALUATIONS = 5;

interface Seeded {
  tenant: string;
  read: string;
  alerts: string[];
  requests: string[];
}

type Page = { data: Record<string, unknown>[]; nextCursor?: string };

/** A tenant's monitoring rows; `scale` makes each tenant's values tell them apart. */
async function seedTenant(label: string, scale: number): Promise<Seeded> {
  const tenant = uniqueTenant(label);
  const read = await createKey(tenant, ["read"]);
  await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
  for (let e = 0; e < EVALUATIONS; e++) {
    const evaluatedAt = new Date(NOW - (EVALUATIONS - e) * HOUR).toISOString();
    for (const feature of FEATURES) {
      const p = [0.25, 0.25, 0.5];
      const q = [0.2 * scale, 0.3, 1 - 0.2 * scale - 0.3];
      const psi = q.reduce((sum, qi, i) => sum + (qi - p[i]!) * Math.log(qi / p[i]!), 0);
      const bins = {
        bins: { kind: "numeric", edges: [30, 50] },
        epsilon: 1e-4,
        referenceCounts: [25, 25, 50],
        currentCounts: q.map((x) => x * 1000),
        referenceProportions: p,
        currentProportions: q,
        terms: [],
      };
      for (const [test, value, pValue, withBins] of [
        ["psi", psi, null, true],
        ["ks", 0.1 * scale, 0.01, false],
        ["js", 0.05 * scale, null, false],
      ] as const) {
        await sql(
          `INSERT INTO drift_results (tenant_id, model_name, version, feature, test, value, p_value,
             is_drift, bins, reference_size, current_size, window_kind, window_start, window_end,
             evaluated_at, evaluation_id, details)
           VALUES ($1, $2, '1', $3, $4, $5, $6, $7, $8, 1000, 2000, 'sliding', $9, $10, $11, $12, $13)`,
          [
            tenant,
            MODEL,
            feature,
            test,
            value,
            pValue,
            e === EVALUATIONS - 1,
            withBins ? JSON.stringify(bins) : null,
            new Date(NOW - (EVALUATIONS - e + 1) * HOUR).toISOString(),
            evaluatedAt,
            evaluatedAt,
            `${tenant}-ev${e}`,
            JSON.stringify({ featureDrift: e === EVALUATIONS - 1 }),
          ],
        );
      }
    }
  }
  // One window whose attribution (7 days) has passed, one still open.
  for (const [startMs, n] of [
    [NOW - 10 * DAY, 400],
    [NOW - 3 * HOUR, 300],
  ] as const) {
    await sql(
      `INSERT INTO performance_results (tenant_id, model_name, version, window_start, window_end,
         sample_size, positive_count, auc, log_loss, brier, calibration, details)
       VALUES ($1, $2, '1', $3, $4, $5, $6, $7, 0.4, 0.12, $8, $9)`,
      [
        tenant,
        MODEL,
        new Date(startMs).toISOString(),
        new Date(startMs + HOUR).toISOString(),
        n * scale,
        40,
        0.7,
        JSON.stringify([
          { lower: 0, upper: 0.5, count: 10, meanPredicted: 0.2, observedRate: 0.25 },
        ]),
        JSON.stringify({ attributionWindowMs: 7 * DAY }),
      ],
    );
  }
  const alerts: string[] = [];
  for (const [i, state] of (["open", "open", "resolved"] as const).entries()) {
    const id = `${tenant}-alert-${i}`;
    alerts.push(id);
    await sql(
      `INSERT INTO alerts (tenant_id, alert_id, type, model_name, version, cloud_event, state, created_at)
       VALUES ($1, $2, 'dev.driftline.drift.detected', $3, '1', $4, $5, $6)`,
      [
        tenant,
        id,
        i === 1 ? "other-model" : MODEL,
        JSON.stringify({ specversion: "1.0", id, type: "dev.driftline.drift.detected" }),
        state,
        new Date(NOW - (3 - i) * HOUR).toISOString(),
      ],
    );
  }
  const requests: string[] = [];
  for (let i = 0; i < 2; i++) {
    const id = `${tenant}-rr-${i}`;
    requests.push(id);
    await sql(
      `INSERT INTO retrain_requests (tenant_id, request_id, model_name, version, policy, evidence, requested_at)
       VALUES ($1, $2, $3, '1', 'psi-above(0.2, consecutive=3)', $4, $5)`,
      [
        tenant,
        id,
        MODEL,
        JSON.stringify({ psi: 0.3 * scale }),
        new Date(NOW - (2 - i) * HOUR).toISOString(),
      ],
    );
  }
  await sql(
    "UPDATE retrain_requests SET status = 'training', status_reason = 'training a logistic-regression candidate' WHERE tenant_id = $1 AND request_id = $2",
    [tenant, requests[0]],
  );
  // The model's manifest and three settled predictions (a fourth is still unlabelled), for the
  // training-set download; a categorical value needs CSV quoting.
  await sql(
    `INSERT INTO model_versions (tenant_id, model_name, version, manifest)
     VALUES ($1, $2, '1', $3)`,
    [
      tenant,
      MODEL,
      JSON.stringify({
        input: "features",
        output: { name: "probability", index: 0 },
        features: [
          { name: "age", type: "number" },
          { name: "plan", type: "categorical", categories: ["free", 'pro, "x"'] },
        ],
      }),
    ],
  );
  for (const [i, label] of [true, false, true, null].entries()) {
    await sql(
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
         predicted_at, label, labelled_at)
       VALUES ($1, $2, $3, '1', 0.5, $4, $5, $6, $7)`,
      [
        tenant,
        `${tenant}-p${i}`,
        MODEL,
        JSON.stringify({ age: 30 * scale + i, plan: i === 1 ? 'pro, "x"' : "free" }),
        new Date(NOW - (5 - i) * HOUR).toISOString(),
        label,
        label === null ? null : new Date(NOW - HOUR).toISOString(),
      ],
    );
  }
  // Two minute windows of Purchase events, the same keys for both tenants.
  const minute = Math.floor((NOW - 2 * HOUR) / 60_000) * 60_000;
  for (const [k, start] of [minute, minute + 60_000].entries()) {
    await sql(
      `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
         campaign, event_count, match_quality_sum, match_quality_count, conversion_count)
       VALUES ($1, 60, $2, 'web', 'Purchase', 'spring', $3, $4, $3, 1)`,
      [tenant, new Date(start).toISOString(), (k + 1) * scale, 5 * (k + 1) * scale],
    );
  }
  await sql("INSERT INTO event_time_watermarks (tenant_id, max_event_time) VALUES ($1, $2)", [
    tenant,
    new Date(NOW - HOUR).toISOString(),
  ]);
  return { tenant, read, alerts, requests };
}

describe("read API", () => {
  const app = testApp();
  let acme: Seeded;
  let globex: Seeded;
  let adminKey: string;
  let scoreKey: string;

  const get = async (path: string, key: string) => {
    const res = await app.fetch(path, { key });
    return {
      status: res.status,
      body: (await res.json()) as Page & ErrorJson & Record<string, unknown>,
    };
  };

  beforeAll(async () => {
    acme = await seedTenant("acme", 1);
    globex = await seedTenant("globex", 2);
    adminKey = await createKey(acme.tenant, ["admin"]);
    scoreKey = await createKey(acme.tenant, ["score", "ingest"]);
  }, 60_000);

  it("drift: one entry per evaluation and feature, with bins that reproduce the PSI", async () => {
    const { status, body } = await get(`/v1/models/${MODEL}/drift`, acme.read);
    expect(status).toBe(200);
    expect(body.data).toHaveLength(EVALUATIONS * FEATURES.length);
    expect(body.nextCursor).toBeUndefined();
    const last = body.data.at(-1) as Record<string, unknown> & { bins: Record<string, number[]> };
    expect(last).toMatchObject({
      version: "1",
      feature: expect.stringMatching(/^(age|__score__)$/),
      window: { kind: "sliding", size: 2000 },
      ks: { statistic: 0.1, pValue: 0.01 },
      jensenShannon: 0.05,
      drifted: true,
      bins: { edges: [30, 50], reference: [0.25, 0.25, 0.5], current: [0.2, 0.3, 0.5] },
    });
    const reference = last.bins.reference!;
    const current = last.bins.current!;
    const psi = current.reduce(
      (s, q, i) => s + (q - reference[i]!) * Math.log(q / reference[i]!),
      0,
    );
    expect(last.psi).toBeCloseTo(psi, 12);
    expect((body.data[0] as Record<string, unknown>).drifted).toBe(false);
    const times = body.data.map((d) => Date.parse(String(d.evaluatedAt)));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const feature = await get(`/v1/models/${MODEL}/drift?feature=age&version=1`, acme.read);
    expect(feature.body.data).toHaveLength(EVALUATIONS);
    expect(feature.body.data.every((d) => d.feature === "age")).toBe(true);
  });

  it("performance: windows with provisional set until their attribution window has passed", async () => {
    const from = new Date(NOW - 20 * DAY).toISOString();
    const { status, body } = await get(`/v1/models/${MODEL}/performance?from=${from}`, acme.read);
    expect(status).toBe(200);
    expect(body.data).toMatchObject([
      {
        version: "1",
        provisional: false,
        n: 400,
        positives: 40,
        auc: 0.7,
        logLoss: 0.4,
        brier: 0.12,
      },
      { provisional: true, n: 300, calibration: [{ predicted: 0.2, observed: 0.25, n: 10 }] },
    ]);
  });

  it("alerts: filters, acknowledgement, and a resolved alert stays resolved", async () => {
    const all = await get("/v1/alerts", acme.read);
    expect(all.body.data.map((a) => a.id)).toEqual(acme.alerts);
    expect((all.body.data[0] as { event: { id: string } }).event.id).toBe(acme.alerts[0]);
    const open = await get(`/v1/alerts?status=open&model=${MODEL}`, acme.read);
    expect(open.body.data.map((a) => a.id)).toEqual([acme.alerts[0]]);

    const ack = await app.fetch(`/v1/alerts/${acme.alerts[0]}/acknowledge`, {
      method: "POST",
      key: acme.read,
    });
    expect(ack.status).toBe(200);
    const acked = (await ack.json()) as { id: string; status: string; acknowledgedAt: string };
    expect(acked).toMatchObject({ id: acme.alerts[0], status: "acknowledged" });
    const again = await app.fetch(`/v1/alerts/${acme.alerts[0]}/acknowledge`, {
      method: "POST",
      key: acme.read,
    });
    expect(await again.json()).toEqual(acked);
    const listed = await get("/v1/alerts?status=acknowledged", acme.read);
    expect(listed.body.data).toMatchObject([
      { id: acme.alerts[0], status: "acknowledged", acknowledgedAt: acked.acknowledgedAt },
    ]);

    const resolved = await app.fetch(`/v1/alerts/${acme.alerts[2]}/acknowledge`, {
      method: "POST",
      key: acme.read,
    });
    expect(resolved.status).toBe(409);
    const unknown = await app.fetch("/v1/alerts/nope/acknowledge", {
      method: "POST",
      key: acme.read,
    });
    expect(unknown.status).toBe(404);
  });

  it("retraining requests: list, filters and one request with its history", async () => {
    const list = await get(`/v1/retraining-requests?model=${MODEL}`, acme.read);
    expect(list.body.data.map((r) => r.id)).toEqual(acme.requests);
    expect(list.body.data[1]).toMatchObject({
      model: MODEL,
      version: "1",
      status: "requested",
      policy: "psi-above(0.2, consecutive=3)",
      evidence: { psi: 0.3 },
    });
    const inProgress = await get("/v1/retraining-requests?status=training", acme.read);
    expect(inProgress.body.data.map((r) => r.id)).toEqual([acme.requests[0]]);
    expect(inProgress.body.data[0]).toMatchObject({
      reason: "training a logistic-regression candidate",
    });
    expect(list.body.data[1]).not.toHaveProperty("reason");

    const one = await get(`/v1/retraining-requests/${acme.requests[0]}`, acme.read);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: acme.requests[0], status: "training" });
    expect((one.body.history as { status: string }[]).map((h) => h.status)).toEqual([
      "requested",
      "training",
    ]);
    // The worker's reason for the status is kept in the history.
    expect((one.body.history as { reason?: string }[])[1]?.reason).toBe(
      "training a logistic-regression candidate",
    );
  });

  it("training set: the request's settled rows as CSV or NDJSON, the tenant's only", async () => {
    const path = `/v1/retraining-requests/${acme.requests[0]}/training-set`;
    const csv = await app.fetch(path, { key: acme.read });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const iso = (i: number) => new Date(NOW - (5 - i) * HOUR).toISOString();
    expect(await csv.text()).toBe(
      [
        "age,plan,label,time",
        `30,free,1,${iso(0)}`,
        `31,"pro, ""x""",0,${iso(1)}`,
        `32,free,1,${iso(2)}`,
        "",
      ].join("\r\n"),
    );
    const ndjson = await app.fetch(path, {
      key: acme.read,
      headers: { Accept: "application/x-ndjson" },
    });
    const lines = (await ndjson.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { features: { age: 30, plan: "free" }, label: 1, time: iso(0) },
      { features: { age: 31, plan: 'pro, "x"' }, label: 0, time: iso(1) },
      { features: { age: 32, plan: "free" }, label: 1, time: iso(2) },
    ]);
    expect(
      (await app.fetch(`${path}?limit=2`, { key: acme.read }).then((r) => r.text())).split("\r\n"),
    ).toHaveLength(4);
    expect((await app.fetch(path, { key: globex.read })).status).toBe(404);
  });

  it("metrics: the stream processor's body, from the tenant's windows only", async () => {
    const from = NOW - 3 * HOUR;
    const { status, body } = await get(
      `/v1/metrics?from=${from}&to=${NOW}&groupBy=event_name`,
      acme.read,
    );
    expect(status).toBe(200);
    const parsed = metricsResponseSchema.parse(body);
    expect(parsed.tenant).toBe(acme.tenant);
    expect(parsed.windows.map((w) => [w.eventName, w.events, w.matchQuality])).toEqual([
      ["Purchase", 1, 5],
      ["Purchase", 2, 5],
    ]);
    expect(parsed.watermark).not.toBeNull();
  });

  it("works through the Worker's own fetch entry (real env, per-request pool)", async () => {
    const res = await worker.fetch(`http://driftline.test/v1/models/${MODEL}/drift?limit=1`, {
      headers: { authorization: `Bearer ${acme.read}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Page;
    expect(body.data).toHaveLength(1);
    expect(body.nextCursor).toEqual(expect.any(String));
  });

  it("pages walk every row exactly once", async () => {
    const walk = async (path: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const sep = path.includes("?") ? "&" : "?";
        const page = await get(
          `${path}${sep}limit=3${cursor ? `&cursor=${cursor}` : ""}`,
          acme.read,
        );
        expect(page.status).toBe(200);
        expect(page.body.data.length).toBeLessThanOrEqual(3);
        ids.push(...page.body.data.map((d) => String(d.id ?? `${d.evaluatedAt}/${d.feature}`)));
        cursor = page.body.nextCursor;
        if (cursor === undefined) return ids;
      }
      throw new Error("paging did not end");
    };
    const drift = await walk(`/v1/models/${MODEL}/drift`);
    expect(drift).toHaveLength(EVALUATIONS * FEATURES.length);
    expect(new Set(drift).size).toBe(drift.length);
    expect(await walk("/v1/alerts")).toEqual(acme.alerts);
    expect(await walk("/v1/retraining-requests")).toEqual(acme.requests);
  });

  it("pages stay exact when a group's tests were written at different times", async () => {
    // Each group's first row (its head, by id) is evaluated last, after its two siblings, so the
    // first page's scan meets only siblings and must still hand out a cursor.
    const tenant = uniqueTenant("skew");
    const key = await createKey(tenant, ["read"]);
    const at = (minutes: number) => new Date(NOW - HOUR + minutes * 60_000).toISOString();
    const groups = ["a", "b", "c"];
    for (const [g, group] of groups.entries()) {
      for (const [test, minute] of [
        ["psi", 20 + g],
        ["ks", 1 + 2 * g],
        ["js", 2 + 2 * g],
      ] as const) {
        await sql(
          `INSERT INTO drift_results (tenant_id, model_name, version, feature, test, value, p_value,
             is_drift, reference_size, current_size, window_kind, window_start, window_end,
             evaluated_at, evaluation_id)
           VALUES ($1, $2, '1', 'age', $3, 0.1, $4, false, 100, 100, 'sliding', $5, $6, $7, $8)`,
          [tenant, MODEL, test, test === "ks" ? 0.5 : null, at(-60), at(0), at(minute), group],
        );
      }
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await get(
        `/v1/models/${MODEL}/drift?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
        key,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((d) => String(d.evaluatedAt)));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    expect(seen).toEqual([at(20), at(21), at(22)]);
  });

  describe("tenant isolation: another tenant's key sees none of acme's rows", () => {
    const routes = () => [
      `/v1/models/${MODEL}/drift`,
      `/v1/models/${MODEL}/performance?from=${new Date(NOW - 20 * DAY).toISOString()}`,
      "/v1/alerts",
      "/v1/retraining-requests",
      `/v1/metrics?from=${NOW - 3 * HOUR}&to=${NOW}`,
    ];

    it("lists answer only the caller's rows", async () => {
      for (const path of routes()) {
        const mine = JSON.stringify((await get(path, acme.read)).body);
        const theirs = await get(path, globex.read);
        expect(theirs.status, path).toBe(200);
        const text = JSON.stringify(theirs.body);
        expect(text, path).not.toContain(acme.tenant);
        expect(mine, path).not.toContain(globex.tenant);
      }
    });

    it("a stranger's key finds no model, alert or request of acme", async () => {
      const stranger = await createKey(uniqueTenant("stranger"), ["read"]);
      for (const path of routes()) {
        const res = await get(path, stranger);
        expect([200, 404], path).toContain(res.status);
        if (res.status === 200 && Array.isArray(res.body.data))
          expect(res.body.data, path).toEqual([]);
        if (res.status === 200 && Array.isArray(res.body.windows))
          expect(res.body.windows).toEqual([]);
      }
      expect((await get(`/v1/retraining-requests/${acme.requests[1]}`, globex.read)).status).toBe(
        404,
      );
      const ack = await app.fetch(`/v1/alerts/${acme.alerts[1]}/acknowledge`, {
        method: "POST",
        key: globex.read,
      });
      expect(ack.status).toBe(404);
      const still = await get("/v1/alerts?status=open", acme.read);
      expect(still.body.data.map((a) => a.id)).toContain(acme.alerts[1]);
    });
  });

  it.each([
    ["from after to", `/v1/models/${MODEL}/drift?from=${NOW}&to=${NOW - HOUR}`, "from"],
    [
      "a range over 31 days",
      `/v1/models/${MODEL}/performance?from=${NOW - 40 * DAY}&to=${NOW}`,
      "from",
    ],
    ["a time that is not one", "/v1/alerts?to=yesterday", "to"],
    ["a forged cursor", "/v1/alerts?cursor=bm90LWEtY3Vyc29y", "cursor"],
    ["a cursor that is not base64url", "/v1/retraining-requests?cursor=%2B%2B", "cursor"],
    ["limit above 1000", "/v1/alerts?limit=1001", "limit"],
    ["limit 0", `/v1/models/${MODEL}/drift?limit=0`, "limit"],
    ["an unknown status", "/v1/alerts?status=closed", "status"],
    ["a malformed model name", "/v1/models/no%20spaces/drift", "name"],
    ["metrics from after to", `/v1/metrics?from=${NOW}&to=${NOW - 1}`, "from"],
  ])("400 naming the field for %s", async (_, path, field) => {
    const { status, body } = await get(path, acme.read);
    expect(status).toBe(400);
    expect(body.error.code).toBe("VALIDATION");
    expect(body.error.details?.issues?.map((i: { field: string }) => i.field)).toContain(field);
  });

  it("an unknown model is a 404 naming it", async () => {
    for (const path of ["/v1/models/nosuchmodel/drift", "/v1/models/nosuchmodel/performance"]) {
      const { status, body } = await get(path, acme.read);
      expect(status, path).toBe(404);
      expect(body.error.message).toContain('"nosuchmodel"');
    }
  });

  it("needs the read role; admin implies it", async () => {
    const paths = [
      `/v1/models/${MODEL}/drift`,
      `/v1/models/${MODEL}/performance`,
      "/v1/alerts",
      "/v1/retraining-requests",
      `/v1/retraining-requests/${acme.requests[0]}`,
      "/v1/metrics",
    ];
    for (const path of paths) {
      const refused = await get(path, scoreKey);
      expect(refused.status, path).toBe(403);
      expect(refused.body.error.message).toContain('"read"');
      expect((await get(path, adminKey)).status, path).toBe(200);
    }
    const ack = await app.fetch(`/v1/alerts/${acme.alerts[1]}/acknowledge`, {
      method: "POST",
      key: scoreKey,
    });
    expect(ack.status).toBe(403);
  });

  it("answers 503 naming DATABASE_URL when it is not configured", async () => {
    const bare = testApp({ DATABASE_URL: undefined });
    const res = await bare.fetch("/v1/alerts", { key: acme.read });
    expect(res.status).toBe(503);
    expect(((await res.json()) as ErrorJson).error.message).toContain("DATABASE_URL");
  });

  it("lists the read routes in /openapi.json", async () => {
    const doc = (await (await app.fetch("/openapi.json")).json()) as {
      paths: Record<string, unknown>;
    };
    for (const path of [
      "/v1/metrics",
      "/v1/models/{name}/drift",
      "/v1/models/{name}/performance",
      "/v1/alerts",
      "/v1/alerts/{id}/acknowledge",
      "/v1/retraining-requests",
      "/v1/retraining-requests/{id}",
      "/v1/retraining-requests/{id}/training-set",
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
  });
});
