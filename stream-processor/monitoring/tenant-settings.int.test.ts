// A tenant's stored monitoring settings against real Postgres: a changed threshold changes the
// verdict from the next batch on, in the same running stage; other tenants keep the operator's.
import type pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabelSignal, policyFromSettings, resolveMonitoringSettings } from "#core/monitoring";
import { TestSchema } from "../../test/support/test-schema";
import { ModelReferenceSource } from "./model-reference-source";
import { BUNDLED_MODELS_DIR } from "./monitoring-config";
import { MonitoringStage } from "./monitoring-stage";
import type { PredictionRow } from "./monitoring-store";
import { NeonMonitoringTransaction } from "./neon-monitoring-store";
import { type ScoredRow, scoredRows } from "./testing/conversion-stream";

const schema = new TestSchema("monset");
const START = Date.UTC(2026, 10, 20, 0, 0, 0);
const log = pino({ level: "silent" });

const settings = resolveMonitoringSettings({
  sliding: { size: 1000, stride: 250, minSample: 500 },
  labels: { attributionWindowMs: 600_000, conversionEvents: ["Purchase"] },
});

let pool: pg.Pool;

async function batch(
  stage: MonitoringStage,
  predictions: PredictionRow[],
  signals: LabelSignal[] = [],
) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const summary = await stage.apply(
      new NeonMonitoringTransaction(client),
      { predictions, signals },
      Date.UTC(2026, 10, 22),
    );
    await client.query("COMMIT");
    return summary;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

const row =
  (tenant: string) =>
  (r: ScoredRow): PredictionRow => ({
    tenant,
    predictionId: r.predictionId,
    model: "conversion",
    version: "1",
    entityId: undefined,
    score: r.score,
    features: { ...r.features },
    predictedAtMs: r.predictedAtMs,
  });

/** Features called drifted by PSI in the tenant's latest sliding evaluation (batches share evaluated_at). */
async function latestPsiVerdicts(tenant: string): Promise<{ drifted: number; features: number }> {
  const { rows } = await pool.query<{ drifted: string; features: string }>(
    `SELECT count(*) FILTER (WHERE is_drift)::text AS drifted, count(*)::text AS features
     FROM drift_results
     WHERE tenant_id = $1 AND test = 'psi' AND window_kind = 'sliding'
       AND window_end = (SELECT max(window_end) FROM drift_results
                         WHERE tenant_id = $1 AND window_kind = 'sliding')`,
    [tenant],
  );
  return { drifted: Number(rows[0]!.drifted), features: Number(rows[0]!.features) };
}

async function store(tenant: string, model: string, overrides: unknown): Promise<void> {
  await pool.query(
    `INSERT INTO monitoring_settings (tenant_id, model_name, overrides) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (tenant_id, model_name)
     DO UPDATE SET overrides = EXCLUDED.overrides, revision = monitoring_settings.revision + 1`,
    [tenant, model, JSON.stringify(overrides)],
  );
}

beforeAll(async () => {
  pool = await schema.create(2);
}, 120_000);

afterAll(() => schema.drop());

describe("tenant monitoring settings in the stage", () => {
  // The same undrifted stream for two tenants: the verdicts can only differ by their settings.
  const stream = scoredRows({ seed: 11, n: 1500, startMs: START, stepMs: 1000, idPrefix: "s" });
  const stage = new MonitoringStage({
    settings,
    policy: policyFromSettings(settings.retrain),
    references: new ModelReferenceSource({ modelsDir: BUNDLED_MODELS_DIR, log }),
    allowedLatenessMs: 0,
    maxFutureSkewMs: 365 * 86_400_000,
    operatorSinks: [],
    log,
  });

  it("a lowered PSI threshold turns the next evaluation's verdict to drifted, for that tenant only", async () => {
    const first = stream.slice(0, 1000);
    await batch(stage, [...first.map(row("strict")), ...first.map(row("calm"))]);
    const before = await latestPsiVerdicts("strict");
    expect(before.features).toBe(11);
    expect(before.drifted).toBe(0);

    // PSI of a sample against its own population is small but never 0: 1e-6 calls it drifted.
    await store("strict", "", { drift: { psiThreshold: 1e-6 }, alerts: { confirmations: 1 } });
    const next = stream.slice(1000, 1250);
    const summary = await batch(stage, [...next.map(row("strict")), ...next.map(row("calm"))]);
    expect(summary.slidingEvaluations).toBe(2);
    expect((await latestPsiVerdicts("strict")).drifted).toBe(11);
    expect((await latestPsiVerdicts("calm")).drifted).toBe(0);
    const alerts = await pool.query<{ tenant_id: string }>("SELECT DISTINCT tenant_id FROM alerts");
    expect(alerts.rows.map((r) => r.tenant_id)).toEqual(["strict"]);
  });

  it("a model's threshold overrides the tenant's on the next batch", async () => {
    await store("strict", "conversion", { drift: { psiThreshold: 5 } });
    await batch(stage, stream.slice(1250, 1500).map(row("strict")));
    expect((await latestPsiVerdicts("strict")).drifted).toBe(0);
  });

  it("conversion events are the tenant's: a Lead labels nothing until the tenant names it", async () => {
    const lead = (id: string): LabelSignal => ({
      tenant: "calm",
      eventName: "Lead",
      eventId: id,
      eventTimeMs: START + 1_000_000,
      predictionId: "s-0",
      clickIds: [],
      conversion: true,
    });
    const keys = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM conversion_keys WHERE tenant_id = 'calm'",
          )
        ).rows[0]!.n,
      );
    await batch(stage, [], [lead("lead-1")]);
    expect(await keys()).toBe(0);
    await store("calm", "", { conversionEvents: ["Purchase", "Lead"] });
    await batch(stage, [], [lead("lead-2")]);
    expect(await keys()).toBe(1);
  });
});
