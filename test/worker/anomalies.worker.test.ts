/**
 * The anomaly and health-score reads inside workerd against real Postgres (the test schema,
 * through the local relay) and real Redis for keys: bodies, tenant isolation, filters, paging,
 * validation and roles.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "./read-db";
import { createKey, type ErrorJson, testApp, uniqueTenant } from "./support";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE;

interface Seeded {
  tenant: string;
  read: string;
  ids: string[];
}

/**
 * Two anomalies (one open drop on Purchase, one resolved spike), an hour of capi windows with
 * match quality `mq` and, when given, a day of web ingest outcomes.
 */
async function seedTenant(
  label: string,
  mq: number,
  outcomes?: { accepted: number; duplicates: number; rejected: number },
): Promise<Seeded> {
  const tenant = uniqueTenant(label);
  const read = await createKey(tenant, ["read"]);
  await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
  const ids = [`an-${label}-1`, `an-${label}-2`];
  const rows: [string, string, string, number, number | null, number, number][] = [
    [ids[0]!, "Purchase", "spike", NOW - 5 * HOUR, NOW - 4 * HOUR, 40, 0.7],
    [ids[1]!, "Purchase", "drop-to-zero", NOW - HOUR, null, 0, 0.6],
  ];
  for (const [id, eventName, reason, detected, resolved, observed, score] of rows) {
    await sql(
      `INSERT INTO anomalies (tenant_id, anomaly_id, series_key, metric, dimensions, reason,
         detected_at, resolved_at, expected, lower_bound, upper_bound, observed, score, peak_score)
       VALUES ($1, $2, $3, 'events', $4, $5, $6, $7, 3.2, 0, 14, $8, $9, $9)`,
      [
        tenant,
        id,
        JSON.stringify(["events", "capi", eventName, ""]),
        JSON.stringify({ source: "capi", eventName, campaign: "" }),
        reason,
        new Date(detected).toISOString(),
        resolved === null ? null : new Date(resolved).toISOString(),
        observed,
        score,
      ],
    );
  }
  for (let m = 1; m <= 60; m++) {
    await sql(
      `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
         campaign, event_count, match_quality_sum, match_quality_count)
       VALUES ($1, 60, $2, 'capi', 'PageView', '', 10, $3, 10)`,
      [tenant, new Date(NOW - m * MINUTE).toISOString(), 10 * mq],
    );
  }
  if (outcomes !== undefined) {
    // Inside the last 24 h, and one row outside it that must not count.
    for (const at of [NOW - 2 * HOUR, NOW - 20 * HOUR, NOW - 25 * HOUR]) {
      await sql(
        `INSERT INTO ingest_outcome_windows (tenant_id, window_start, source, accepted,
           duplicates, rejected, copies) VALUES ($1, $2, 'web', $3, $4, $5, 0)`,
        [
          tenant,
          new Date(at).toISOString(),
          outcomes.accepted,
          outcomes.duplicates,
          outcomes.rejected,
        ],
      );
    }
  }
  await sql(
    `INSERT INTO anomaly_progress (tenant_id, evaluated_before, state_through, series_overflow)
     VALUES ($1, $2, $2, 0)`,
    [tenant, new Date(NOW).toISOString()],
  );
  return { tenant, read, ids };
}

type Body = ErrorJson &
  Record<string, unknown> & { data: Record<string, unknown>[]; nextCursor?: string };

describe("anomaly reads", () => {
  const app = testApp();
  let acme: Seeded;
  let globex: Seeded;
  let scoreKey: string;

  const get = async (path: string, key?: string) => {
    const res = await app.fetch(path, key === undefined ? {} : { key });
    return { status: res.status, body: (await res.json()) as Body };
  };

  beforeAll(async () => {
    acme = await seedTenant("acme", 4.1, { accepted: 45, duplicates: 2, rejected: 3 });
    globex = await seedTenant("globex", 8);
    scoreKey = await createKey(acme.tenant, ["score"]);
  }, 60_000);

  it("GET /v1/anomalies: the tenant's own anomalies, oldest first, with their evidence", async () => {
    for (const t of [acme, globex]) {
      const { status, body } = await get("/v1/anomalies", t.read);
      expect(status).toBe(200);
      expect(body.data.map((a) => a.id)).toEqual(t.ids);
    }
    const { body } = await get("/v1/anomalies?status=open", acme.read);
    expect(body.data).toEqual([
      {
        id: acme.ids[1],
        status: "open",
        series: {
          metric: "events",
          dimensions: { source: "capi", eventName: "Purchase", campaign: "" },
        },
        reason: "drop-to-zero",
        detectedAt: new Date(NOW - HOUR).toISOString(),
        observed: 0,
        expected: 3.2,
        expectedRange: { lower: 0, upper: 14 },
        score: 0.6,
        peakScore: 0.6,
      },
    ]);
    const resolved = await get("/v1/anomalies?status=resolved", acme.read);
    expect(resolved.body.data.map((a) => [a.id, a.resolvedAt])).toEqual([
      [acme.ids[0], new Date(NOW - 4 * HOUR).toISOString()],
    ]);
  });

  it("pages with limit and cursor, and filters by time and metric", async () => {
    const first = await get("/v1/anomalies?limit=1", acme.read);
    expect(first.body.data.map((a) => a.id)).toEqual([acme.ids[0]]);
    const second = await get(
      `/v1/anomalies?limit=1&cursor=${encodeURIComponent(first.body.nextCursor!)}`,
      acme.read,
    );
    expect(second.body.data.map((a) => a.id)).toEqual([acme.ids[1]]);
    expect(second.body.nextCursor).toBeUndefined();
    const recent = await get(`/v1/anomalies?from=${NOW - 2 * HOUR}`, acme.read);
    expect(recent.body.data.map((a) => a.id)).toEqual([acme.ids[1]]);
    const none = await get("/v1/anomalies?metric=predictions", acme.read);
    expect(none.body.data).toEqual([]);
  });

  it("GET /v1/health-score: hand-computed score, factors and advice, per tenant and per source", async () => {
    const { status, body } = await get("/v1/health-score", acme.read);
    expect(status).toBe(200);
    // 100 − 35 (an open drop to zero) − round((6 − 4.1) · 10) = 19 − 6 (web: 6 of 100 events
    // rejected in the last 24 h, round(6 %)) = 40; 4 % duplicates are within the 30 % limit.
    expect(body.score).toBe(40);
    expect(body.status).toBe("critical");
    expect((body.factors as { factor: string; penalty: number }[]).slice(0, 4)).toEqual([
      expect.objectContaining({ factor: "volume-anomalies", penalty: 35, status: "critical" }),
      expect.objectContaining({ factor: "match-quality", penalty: 19, status: "warning" }),
      expect.objectContaining({ factor: "rejected-share", penalty: 6, status: "warning" }),
      expect.objectContaining({ factor: "duplicate-share", penalty: 0, status: "ok" }),
    ]);
    const advice = body.recommendations as string[];
    expect(advice[0]).toMatch(/^check the integration sending events of `Purchase` \(capi\)/);
    expect(advice[1]).toMatch(/match quality 4\.1, ≥ 6 expected$/);
    expect(advice[2]).toMatch(/^fix the rejected events: 6\.0 % were refused/);
    // Per source: capi has the drop and the match quality, web the rejections.
    expect(
      (body.sources as { source: string; score: number }[]).map((s) => [s.source, s.score]),
    ).toEqual([
      ["capi", 46],
      ["web", 94],
    ]);
    expect((body.openAnomalies as { id: string }[]).map((a) => a.id)).toEqual([acme.ids[1]]);

    // Another tenant's health knows nothing of acme's anomalies; its quality is good.
    const other = await get("/v1/health-score", globex.read);
    expect(other.body.score).toBe(65);
    expect((other.body.openAnomalies as { id: string }[]).map((a) => a.id)).toEqual([
      globex.ids[1],
    ]);
  });

  it("GET /v1/health-score: per pixel, from its open anomalies and its last 24 h, for the tenant's own pixels only", async () => {
    const tenant = uniqueTenant("initech");
    const read = await createKey(tenant, ["read"]);
    await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
    // Pixel 111 dropped to zero (open); 222 flows with match quality 4.1; 333 sent nothing in
    // the last 24 h (listed nowhere).
    await sql(
      `INSERT INTO anomalies (tenant_id, anomaly_id, series_key, metric, dimensions, reason,
         detected_at, expected, lower_bound, upper_bound, observed, score, peak_score)
       VALUES ($1, 'an-pixel-1', '["pixel-events","capi","111"]', 'pixel-events', $2,
         'drop-to-zero', $3, 5, 0, 19, 0, 0.6, 0.6)`,
      [
        tenant,
        JSON.stringify({ source: "capi", pixel: "111" }),
        new Date(NOW - 30 * MINUTE).toISOString(),
      ],
    );
    const pixelRow = (pixel: string, at: number, events: number, mq: number) =>
      sql(
        `INSERT INTO pixel_minute_windows (tenant_id, window_start, pixel_id, event_count,
           match_quality_sum, match_quality_count) VALUES ($1, $2, $3, $4, $5, $4)`,
        [tenant, new Date(at).toISOString(), pixel, events, events * mq],
      );
    await pixelRow("111", NOW - 2 * HOUR, 300, 7);
    await pixelRow("222", NOW - 3 * HOUR, 40, 4.1);
    await pixelRow("222", NOW - 10 * HOUR, 60, 4.1);
    await pixelRow("333", NOW - 30 * HOUR, 50, 9);
    const { status, body } = await get("/v1/health-score", read);
    expect(status).toBe(200);
    const pixels = body.pixels as {
      pixel: string;
      events: number;
      score: number;
      recommendations: string[];
    }[];
    // 111: 100 − 35 (open drop; match quality 7 is on target); 222: 100 − round((6 − 4.1) · 10).
    expect(pixels.map((p) => [p.pixel, p.events, p.score])).toEqual([
      ["111", 300, 65],
      ["222", 100, 81],
    ]);
    expect(pixels[0]!.recommendations[0]).toMatch(
      /^check the integration sending pixel-events \(capi, pixel 111\): nothing since/,
    );
    expect(pixels[1]!.recommendations[0]).toMatch(/match quality 4\.1, ≥ 6 expected$/);
    // The pixel anomaly counts for the tenant and its capi source too.
    expect(body.score).toBe(65);
    // Other tenants see none of these pixels.
    for (const other of [acme, globex]) {
      const res = await get("/v1/health-score", other.read);
      expect(res.body.pixels).toEqual([]);
    }
    const filtered = await get("/v1/anomalies?metric=pixel-events", read);
    expect(filtered.body.data.map((a) => a.id)).toEqual(["an-pixel-1"]);
  });

  it("answers 400 naming a bad filter, 401 without a key and 403 without the read role", async () => {
    const bad = await get("/v1/anomalies?status=closed", acme.read);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error.details)).toContain("status");
    const badMetric = await get("/v1/anomalies?metric=revenue", acme.read);
    expect(badMetric.status).toBe(400);
    expect((await get("/v1/anomalies")).status).toBe(401);
    expect((await get("/v1/health-score")).status).toBe(401);
    expect((await get("/v1/anomalies", scoreKey)).status).toBe(403);
    expect((await get("/v1/health-score", scoreKey)).status).toBe(403);
  });
});
