/** The retention purge against real Postgres: what each kind's retention deletes, keeps, and in how many statements. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IntegrationEnv, startIntegrationEnv } from "../../test/support/integration-env";
import { purgeExpired, type RetentionPolicy } from "./purge-expired";

const DAY = 86_400_000;
const NOW = Date.parse("2026-12-01T00:00:00Z");
const at = (daysAgo: number) => new Date(NOW - daysAgo * DAY).toISOString();

let env: IntegrationEnv;
const T = "retention-t";

beforeAll(async () => {
  env = await startIntegrationEnv("retention", 1);
  const q = (text: string, values: unknown[]) => env.db.query(text, values);
  // Windows 10 and 100 days old (each with a currency value that cascades).
  for (const [i, d] of [10, 100, 101, 102].entries()) {
    await q(
      `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name)
       VALUES ($1, 60, date_trunc('minute', $2::timestamptz), 'web', $3)`,
      [T, at(d), `e${i}`],
    );
    await q(
      `INSERT INTO metric_window_values (tenant_id, window_seconds, window_start, source, event_name, campaign, currency)
       VALUES ($1, 60, date_trunc('minute', $2::timestamptz), 'web', $3, '', 'EUR')`,
      [T, at(d), `e${i}`],
    );
  }
  // Ingest outcome minutes 10 and 100 days old (they go with the metric windows' retention).
  for (const d of [10, 100]) {
    await q(
      `INSERT INTO ingest_outcome_windows (tenant_id, window_start, source, accepted)
       VALUES ($1, date_trunc('minute', $2::timestamptz), 'capi', 5)`,
      [T, at(d)],
    );
  }
  for (const d of [10, 100]) {
    await q(
      `INSERT INTO pixel_minute_windows (tenant_id, window_start, pixel_id, event_count)
       VALUES ($1, date_trunc('minute', $2::timestamptz), '111', 5)`,
      [T, at(d)],
    );
  }
  // Anomalies: resolved long ago (goes), detected long ago and still open (stays), resolved
  // recently after an old detection (stays: aged by resolution).
  const anomaly = (id: string, detectedDaysAgo: number, resolvedDaysAgo: number | null) =>
    q(
      `INSERT INTO anomalies (tenant_id, anomaly_id, series_key, metric, dimensions, reason,
         detected_at, resolved_at, expected, lower_bound, upper_bound, observed, score, peak_score)
       VALUES ($1, $2, '["events"]', 'events', '{}', 'drop-to-zero', $3, $4, 3, 0, 9, 0, 0.6, 0.7)`,
      [T, id, at(detectedDaysAgo), resolvedDaysAgo === null ? null : at(resolvedDaysAgo)],
    );
  await anomaly("an-old-resolved", 200, 199);
  await anomaly("an-old-open", 200, null);
  await anomaly("an-resolved-recently", 200, 2);
  for (const d of [5, 50]) {
    await q(
      `INSERT INTO drift_results (tenant_id, model_name, version, feature, test, value, is_drift, reference_size,
         current_size, window_kind, window_start, window_end, evaluated_at)
       VALUES ($1, 'm', '1', 'f', 'psi', 0.1, false, 10, 10, 'sliding', $2::timestamptz - interval '1 hour', $2, $2)`,
      [T, at(d)],
    );
    await q(
      `INSERT INTO performance_results (tenant_id, model_name, version, window_start, window_end,
         sample_size, positive_count, log_loss, brier, calibration, evaluated_at)
       VALUES ($1, 'm', '1', $2::timestamptz - interval '1 hour', $2, 10, 1, 0.3, 0.1, '[]', $2)`,
      [T, at(d)],
    );
  }
  // Old alerts: resolved+published (goes), open (stays), resolved but unpublished (stays); a new resolved one (stays).
  const alert = (id: string, d: number, state: string, published: boolean) =>
    q(
      `INSERT INTO alerts (tenant_id, alert_id, type, cloud_event, state, created_at, published_at)
       VALUES ($1, $2, 'dev.driftline.drift.detected', '{}', $3, $4, $5)`,
      [T, id, state, at(d), published ? at(d) : null],
    );
  await alert("a-old-resolved", 400, "resolved", true);
  await alert("a-old-open", 400, "open", true);
  await alert("a-old-unpublished", 400, "resolved", false);
  await alert("a-new-resolved", 3, "resolved", true);
  const request = (id: string, d: number, status: string) =>
    q(
      `INSERT INTO retrain_requests (tenant_id, request_id, model_name, version, policy, evidence,
         status, requested_at, published_at)
       VALUES ($1, $2, 'm', '1', 'psi', '{}', $3, $4, $4)`,
      [T, id, status, at(d)],
    );
  await request("r-old-completed", 400, "completed");
  await request("r-old-open", 400, "open");
  await request("r-new-rejected", 3, "rejected");
  // Deliveries: an old final attempt (goes), an old attempt whose retry is still due (stays), a new one.
  const endpoint = "00000000-0000-4000-8000-000000000001";
  await q(
    `INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, types, secret_sealed)
     VALUES ($1, $2::uuid, 'https://hooks.example.com/x', '{}', 'v1.x.y')`,
    [T, endpoint],
  );
  const delivery = (event: string, d: number, nextInDays: number | null) =>
    q(
      `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, attempt,
         succeeded, error, duration_ms, attempted_at, next_attempt_at)
       VALUES ($1, $2::uuid, $3, 'dev.driftline.drift.detected', 1, $4,
         CASE WHEN $4 THEN NULL ELSE 'HTTP 503' END, 5, $5, $6)`,
      [
        T,
        endpoint,
        event,
        nextInDays === null,
        at(d),
        nextInDays === null ? null : at(-nextInDays),
      ],
    );
  await delivery("ev-old-final", 60, null);
  await delivery("ev-old-retry-due", 60, 1);
  await delivery("ev-new", 1, null);
  const destination = "00000000-0000-4000-8000-000000000002";
  await q(
    `INSERT INTO destinations (tenant_id, destination_id, kind, settings, secret_sealed, token_hint)
     VALUES ($1, $2::uuid, 'meta', '{"pixelId":"1"}', 'v1.x.y', '1234')`,
    [T, destination],
  );
  for (const d of [60, 1]) {
    await q(
      `INSERT INTO destination_batches (tenant_id, destination_id, status, events, attempts, sent_at)
       VALUES ($1, $2::uuid, 'delivered', 1, 1, $3)`,
      [T, destination, at(d)],
    );
  }
}, 120_000);

afterAll(async () => {
  await env?.cleanup();
});

const count = async (table: string) =>
  Number((await env.db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

const policy = (over: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
  metricWindowsDays: 30,
  driftDays: 30,
  alertsDays: 365,
  retrainingDays: 365,
  deliveriesDays: 30,
  anomaliesDays: 90,
  batchRows: 2,
  maxBatchesPerRun: 100,
  ...over,
});

describe("purgeExpired", () => {
  it("keeps everything when every retention is 0 (forever)", async () => {
    const counts = await purgeExpired(
      env.db,
      policy({
        metricWindowsDays: 0,
        driftDays: 0,
        alertsDays: 0,
        retrainingDays: 0,
        deliveriesDays: 0,
        anomaliesDays: 0,
      }),
      NOW,
    );
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    expect(await count("ingest_outcome_windows")).toBe(2);
    expect(await count("pixel_minute_windows")).toBe(2);
    expect(await count("anomalies")).toBe(3);
    expect(await count("metric_windows")).toBe(4);
  });

  it("stops after maxBatchesPerRun statements of batchRows and finishes on the next run", async () => {
    const first = await purgeExpired(
      env.db,
      policy({
        driftDays: 0,
        alertsDays: 0,
        retrainingDays: 0,
        deliveriesDays: 0,
        anomaliesDays: 0,
        batchRows: 1,
        maxBatchesPerRun: 2,
      }),
      NOW,
    );
    expect(first.metricWindows).toBe(2);
    expect(first.ingestOutcomeWindows).toBe(1);
    expect(first.pixelMinuteWindows).toBe(1);
    expect(await count("pixel_minute_windows")).toBe(1);
    expect(await count("metric_windows")).toBe(2);
  });

  it("deletes what is past each kind's retention and keeps the rest", async () => {
    const counts = await purgeExpired(env.db, policy(), NOW);
    expect(counts).toEqual({
      metricWindows: 1,
      // The old outcome minute went with the previous run (same retention as the windows).
      ingestOutcomeWindows: 0,
      pixelMinuteWindows: 0,
      anomalies: 1,
      driftResults: 1,
      driftEntries: 1,
      performanceResults: 1,
      alerts: 1,
      retrainingRequests: 1,
      webhookDeliveries: 1,
      destinationBatches: 1,
    });
    const deliveries = (
      await env.db.query("SELECT event_id FROM webhook_deliveries ORDER BY event_id")
    ).rows;
    expect(deliveries.map((r) => r.event_id)).toEqual(["ev-new", "ev-old-retry-due"]);
    expect(await count("destination_batches")).toBe(1);
    expect(await count("metric_windows")).toBe(1);
    // The values of deleted windows went with them.
    expect(await count("metric_window_values")).toBe(1);
    expect(await count("drift_results")).toBe(1);
    const outcomes = (
      await env.db.query<{ days: number }>(
        "SELECT round(extract(epoch FROM $1::timestamptz - window_start) / 86400) AS days FROM ingest_outcome_windows",
        [new Date(NOW).toISOString()],
      )
    ).rows;
    expect(outcomes.map((r) => Number(r.days))).toEqual([10]);
    const anomalies = (await env.db.query("SELECT anomaly_id FROM anomalies ORDER BY anomaly_id"))
      .rows;
    expect(anomalies.map((r) => r.anomaly_id)).toEqual(["an-old-open", "an-resolved-recently"]);
    expect(await count("drift_entries")).toBe(1);
    expect(await count("performance_results")).toBe(1);
    const alerts = (await env.db.query("SELECT alert_id FROM alerts ORDER BY alert_id")).rows;
    expect(alerts.map((r) => r.alert_id)).toEqual([
      "a-new-resolved",
      "a-old-open",
      "a-old-unpublished",
    ]);
    const requests = (
      await env.db.query("SELECT request_id FROM retrain_requests ORDER BY request_id")
    ).rows;
    expect(requests.map((r) => r.request_id)).toEqual(["r-new-rejected", "r-old-open"]);
    expect(
      Number(
        (
          await env.db.query(
            "SELECT count(*) AS n FROM retrain_request_history WHERE request_id = 'r-old-completed'",
          )
        ).rows[0].n,
      ),
    ).toBe(0);
    // A second run finds nothing more.
    const again = await purgeExpired(env.db, policy(), NOW);
    expect(Object.values(again).every((n) => n === 0)).toBe(true);
  });
});
