// The monitoring stage against real Postgres (a fresh schema): drift over a reference then a
// drifted stream, restart from the stored state, rollback, the label join and performance.
import type pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LabelSignal,
  policyFromSettings,
  resolveMonitoringSettings,
  rocAuc,
} from "#core/monitoring";
import { TestSchema } from "../../test/support/test-schema";
import { ModelReferenceSource } from "./model-reference-source";
import { BUNDLED_MODELS_DIR } from "./monitoring-config";
import { type MonitoringBatchSummary, MonitoringStage } from "./monitoring-stage";
import type { PredictionRow } from "./monitoring-store";
import { NeonMonitoringTransaction } from "./neon-monitoring-store";
import { type ScoredRow, scoredRows, TWO_FEATURE_DRIFT } from "./testing/conversion-stream";

const schema = new TestSchema("mon");
const TENANT = "acme";
const MIN = 60_000;
const START = Date.UTC(2026, 10, 20, 0, 0, 0);
const log = pino({ level: "silent" });

const settings = resolveMonitoringSettings({
  sliding: { size: 1000, stride: 100, minSample: 500 },
  labels: { attributionWindowMs: 10 * MIN, conversionEvents: ["Purchase"] },
  performance: { windowMs: 20 * MIN, minSample: 100 },
  retrain: { psiAbove: 0.25, psiConsecutive: 3, cooldownMs: 3_600_000 },
});

let pool: pg.Pool;

function newStage(): MonitoringStage {
  return new MonitoringStage({
    settings,
    policy: policyFromSettings(settings.retrain),
    references: new ModelReferenceSource({ modelsDir: BUNDLED_MODELS_DIR, log }),
    allowedLatenessMs: 0,
    maxFutureSkewMs: 365 * 86_400_000,
    operatorSinks: ["https://hooks.example/driftline"],
    log,
  });
}

/** One batch in its own transaction; `fail` rolls it back after the stage ran. */
async function batch(
  stage: MonitoringStage,
  predictions: PredictionRow[],
  signals: LabelSignal[] = [],
  fail = false,
): Promise<MonitoringBatchSummary> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const summary = await stage.apply(
      new NeonMonitoringTransaction(client),
      { predictions, signals },
      Date.UTC(2026, 10, 22),
    );
    if (fail) throw new Error("simulated failure after the stage");
    await client.query("COMMIT");
    return summary;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

const row = (r: ScoredRow): PredictionRow => ({
  tenant: TENANT,
  predictionId: r.predictionId,
  model: "conversion",
  version: "1",
  entityId: undefined,
  score: r.score,
  features: { ...r.features },
  predictedAtMs: r.predictedAtMs,
});

/** Conversions of the positive rows: half by prediction id, half by a click id mapped earlier. */
function labelSignals(rows: ScoredRow[]): LabelSignal[] {
  const out: LabelSignal[] = [];
  for (const [i, r] of rows.entries()) {
    if (r.label !== 1) continue;
    const base = { tenant: TENANT, eventTimeMs: r.predictedAtMs + MIN };
    if (i % 2 === 0) {
      out.push({
        ...base,
        eventName: "Purchase",
        eventId: `buy-${r.predictionId}`,
        predictionId: r.predictionId,
        clickIds: [],
        conversion: true,
      });
    } else {
      out.push({
        ...base,
        eventTimeMs: r.predictedAtMs + 1000,
        eventName: "PageView",
        eventId: `view-${r.predictionId}`,
        predictionId: r.predictionId,
        clickIds: [`fb-${r.predictionId}`],
        conversion: false,
      });
      out.push({
        ...base,
        eventName: "Purchase",
        eventId: `buy-${r.predictionId}`,
        predictionId: undefined,
        clickIds: [`fb-${r.predictionId}`],
        conversion: true,
      });
    }
  }
  return out;
}

async function rows<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query(sql, values)).rows as T[];
}

beforeAll(async () => {
  pool = await schema.create(3);
}, 120_000);

afterAll(() => schema.drop());

describe("monitoring stage on Postgres", () => {
  // 3 000 reference predictions, one per second of scoring time, then 2 000 drifted ones.
  const reference = scoredRows({ seed: 5, n: 3000, startMs: START, stepMs: 1000, idPrefix: "ref" });
  const drifted = scoredRows({
    seed: 6,
    n: 2000,
    startMs: START + 3000 * 1000,
    stepMs: 1000,
    idPrefix: "drift",
    drift: TWO_FEATURE_DRIFT,
  });
  let stage = newStage();

  it("stores the reference stream, evaluates every stride, and raises no alert", async () => {
    for (let i = 0; i < reference.length; i += 250) {
      const chunk = reference.slice(i, i + 250);
      await batch(stage, chunk.map(row), labelSignals(chunk));
    }
    const [counts] = await rows<{ n: string; evals: string; alerts: string }>(
      `SELECT (SELECT count(*) FROM predictions) AS n,
              (SELECT count(DISTINCT evaluation_id) FROM drift_results WHERE window_kind = 'sliding') AS evals,
              (SELECT count(*) FROM alerts) AS alerts`,
    );
    expect(Number(counts!.n)).toBe(3000);
    // first evaluation at 500 predictions, then every 100: (3000 − 500) / 100 + 1
    expect(Number(counts!.evals)).toBe(26);
    expect(Number(counts!.alerts)).toBe(0);
    const sizes = await rows<{ current_size: string }>(
      "SELECT DISTINCT current_size::text FROM drift_results WHERE test = 'psi' AND window_kind = 'sliding' AND current_size >= 1000",
    );
    expect(sizes.map((s) => Number(s.current_size))).toEqual([1000]);
  });

  it("survives a restart: a new stage re-reads its window and continues the stride", async () => {
    stage = newStage();
    await batch(stage, drifted.slice(0, 100).map(row));
    const [last] = await rows<{ current_size: string; features: string }>(
      `SELECT max(current_size)::text AS current_size, count(DISTINCT feature)::text AS features
       FROM drift_results WHERE window_kind = 'sliding' AND test = 'psi'
         AND evaluated_at = (SELECT max(evaluated_at) FROM drift_results)`,
    );
    expect(Number(last!.current_size)).toBe(1000);
    expect(Number(last!.features)).toBe(11); // 10 features + the score
  });

  it("a rolled-back batch leaves no trace, and its retry gives the same results", async () => {
    const chunk = drifted.slice(100, 600).map(row);
    await expect(batch(stage, chunk, [], true)).rejects.toThrow(/simulated/);
    const [after] = await rows<{ n: string }>("SELECT count(*)::text AS n FROM predictions");
    expect(Number(after!.n)).toBe(3100);
    const summary = await batch(stage, chunk);
    expect(summary.fresh).toBe(500);
    expect(summary.slidingEvaluations).toBe(5);
  });

  it("names exactly the drifted features and opens one retraining request with evidence", async () => {
    for (let i = 600; i < drifted.length; i += 200) {
      await batch(stage, drifted.slice(i, i + 200).map(row));
    }
    const alerts = await rows<{
      type: string;
      subject: string;
      to: string;
      published_at: Date | null;
    }>(
      "SELECT type, cloud_event->>'subject' AS subject, cloud_event->'data'->>'to' AS to, published_at FROM alerts ORDER BY created_at, alert_id",
    );
    const featureAlerts = alerts.filter((a) => a.subject.includes("/features/"));
    const features = new Set(featureAlerts.map((a) => a.subject.split("/features/")[1]));
    expect([...features].sort()).toEqual(["time_on_site_s", "traffic_source"]);
    // one alert per state change: each feature went up once per level, never repeated
    for (const f of features) {
      const seq = featureAlerts.filter((a) => a.subject.endsWith(`/${f}`)).map((a) => a.to);
      expect(new Set(seq).size).toBe(seq.length);
    }
    const requests = await rows<{
      policy: string;
      evidence: { fired: { details: { features: { feature: string }[] } }[] };
    }>("SELECT policy, evidence FROM retrain_requests");
    expect(requests).toHaveLength(1); // the cooldown holds back the second feature's streak
    const evidenceFeatures = requests[0]!.evidence.fired[0]!.details.features.map((f) => f.feature);
    expect(evidenceFeatures.every((f) => f === "time_on_site_s" || f === "traffic_source")).toBe(
      true,
    );
    expect(alerts.filter((a) => a.type === "dev.driftline.retraining.requested")).toHaveLength(1);
    // every alert is queued for Kafka and for the webhook; the request for retrain-requests
    const outbox = await rows<{ channel: string; n: string }>(
      "SELECT channel, count(*)::text AS n FROM monitoring_outbox GROUP BY 1 ORDER BY 1",
    );
    expect(outbox).toEqual([
      { channel: "alerts", n: String(alerts.length) },
      { channel: "retrain-requests", n: "1" },
      { channel: "webhook", n: String(alerts.length) },
    ]);
    const [state] = await rows<{
      state: { drift: Record<string, { level: string }> };
      seq: string;
    }>("SELECT state, seq::text FROM monitoring_state");
    expect(state!.state.drift.time_on_site_s?.level).toBe("significant");
  });

  it("evaluates each closed scoring-time hour once, on all of its predictions", async () => {
    const hourly = await rows<{ start: Date; end: Date; n: string; evals: string }>(
      `SELECT window_start AS start, window_end AS end, max(current_size)::text AS n,
         count(DISTINCT evaluation_id)::text AS evals
       FROM drift_results WHERE window_kind = 'hourly' AND test = 'psi' GROUP BY 1, 2 ORDER BY 1`,
    );
    // scoring time ran from 00:00 to 01:23: hour 00 is closed (3 600 predictions), hour 01 is not
    expect(hourly).toEqual([
      { start: new Date(START), end: new Date(START + 3_600_000), n: "3600", evals: "1" },
    ]);
    const [due] = await rows<{ open: number[] }>(
      "SELECT state->'openHours' AS open FROM monitoring_state",
    );
    expect(due!.open).toEqual([START + 3_600_000]);
  });

  it("labels predictions through prediction ids and mapped click ids, and computes performance on matured windows", async () => {
    const labels = await rows<{ prediction_id: string; label: boolean | null }>(
      "SELECT prediction_id, label FROM predictions WHERE prediction_id LIKE 'ref-%'",
    );
    const truth = new Map(reference.map((r) => [r.predictionId, r.label]));
    // Every reference prediction is matured (scoring time went on for 2 000 s past the last one).
    expect(labels.every((l) => l.label !== null)).toBe(true);
    const wrong = labels.filter((l) => (l.label ? 1 : 0) !== truth.get(l.prediction_id));
    expect(wrong).toEqual([]);
    const results = await rows<{
      window_start: Date;
      sample_size: string;
      positive_count: string;
      auc: number;
      calibration: unknown[];
    }>(
      "SELECT window_start, sample_size::text, positive_count::text, auc, calibration FROM performance_results ORDER BY window_start",
    );
    expect(results.length).toBeGreaterThanOrEqual(2);
    const first = results[0]!;
    const inWindow = reference.filter(
      (r) =>
        r.predictedAtMs >= first.window_start.getTime() &&
        r.predictedAtMs < first.window_start.getTime() + 20 * MIN,
    );
    expect(Number(first.sample_size)).toBe(inWindow.length);
    expect(Number(first.positive_count)).toBe(inWindow.filter((r) => r.label === 1).length);
    expect(first.auc).toBeCloseTo(
      rocAuc(
        inWindow.map((r) => r.score),
        inWindow.map((r) => r.label),
      )!,
      12,
    );
    expect(first.calibration.length).toBeGreaterThan(0);
  });
});

describe("the predictions table's reasons", () => {
  it("stores each prediction's logged reasons as they came, and NULL for one logged without", async () => {
    const reasons = [
      { feature: "cart_value", contribution: 0.3401 },
      { feature: 'plan "pro", yearly', contribution: -0.0511 },
    ];
    const base = {
      tenant: "reasons-tenant",
      model: "conversion",
      version: "1",
      entityId: undefined,
    };
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await new NeonMonitoringTransaction(client).insertPredictions([
        {
          ...base,
          predictionId: "r-1",
          score: 0.2,
          features: { a: 1 },
          reasons,
          predictedAtMs: START,
        },
        { ...base, predictionId: "r-2", score: 0.4, features: { a: 2 }, predictedAtMs: START + 1 },
      ]);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    const stored = await rows<{ prediction_id: string; reasons: unknown }>(
      "SELECT prediction_id, reasons FROM predictions WHERE tenant_id = 'reasons-tenant' ORDER BY prediction_id",
    );
    expect(stored).toEqual([
      { prediction_id: "r-1", reasons },
      { prediction_id: "r-2", reasons: null },
    ]);
  });
});
