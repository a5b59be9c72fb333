// Provisional performance on the real stack (Kafka → stream processor → Postgres): a window whose
// attribution period is still running gets a provisional result from the conversions seen so far,
// updated as more arrive, then the same row turns final once the watermark passes its maturity.
// Every value is checked against a brute-force AUC (all positive/negative pairs) and log loss
// computed here from the rows and conversions the test sent.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStreamConfig } from "../../stream-processor/config";
import { type StreamProcessor, startStreamProcessor } from "../../stream-processor/main";
import {
  predictionRecord,
  type ScoredRow,
  scoredRows,
} from "../../stream-processor/monitoring/testing/conversion-stream";
import { sampleEventMessage, toValue } from "../../stream-processor/testing/sample-messages";
import { registerDemoModel } from "../support/demo-model";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../support/integration-env";

const TENANT = "acme";
const MIN = 60_000;
const WINDOW_MS = 5 * MIN;
const ATTRIBUTION_MS = 10 * MIN;
const EPSILON = 1e-15;
// Scoring times start on a whole hour, a day ago, one prediction per second (200 in one window).
const START = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000;

let env: IntegrationEnv;
let processor: StreamProcessor | undefined;

/** AUC as the share of (positive, negative) pairs ranked right, ties counting one half. */
function bruteForceAuc(scores: number[], labels: number[]): number {
  let right = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      const a = scores[i] as number;
      const b = scores[j] as number;
      right += a > b ? 1 : a === b ? 0.5 : 0;
    }
  }
  return right / pairs;
}

function bruteForceLogLoss(scores: number[], labels: number[]): number {
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(1 - EPSILON, Math.max(EPSILON, scores[i] as number));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / scores.length;
}

function purchases(rows: readonly ScoredRow[]) {
  return rows.map((r) => {
    const m = sampleEventMessage({
      tenant: TENANT,
      eventId: `buy-${r.predictionId}`,
      eventName: "Purchase",
      eventTimeMs: r.predictedAtMs + MIN,
      value: 10,
      currency: "EUR",
      predictionId: r.predictionId,
    });
    return { key: `${TENANT}:${m.eventId}`, value: toValue(m) };
  });
}

async function drained(): Promise<void> {
  const topics = [env.topics.predictions, env.topics.events];
  await env.drained(topics, 60_000);
}

interface ResultRow {
  id: string;
  provisional: boolean;
  n: string;
  positives: string;
  auc: number | null;
  log_loss: number;
}

async function results(): Promise<ResultRow[]> {
  return (
    await env.db.query<ResultRow>(
      `SELECT id::text, provisional, sample_size::text AS n, positive_count::text AS positives,
         auc, log_loss FROM performance_results ORDER BY window_start`,
    )
  ).rows;
}

function expectValues(row: ResultRow, rows: readonly ScoredRow[], converted: Set<string>): void {
  const scores = rows.map((r) => r.score);
  const labels = rows.map((r) => (converted.has(r.predictionId) ? 1 : 0));
  expect(Number(row.n)).toBe(rows.length);
  expect(Number(row.positives)).toBe(converted.size);
  expect(row.auc).toBeCloseTo(bruteForceAuc(scores, labels), 12);
  expect(row.log_loss).toBeCloseTo(bruteForceLogLoss(scores, labels), 12);
}

beforeAll(async () => {
  env = await startIntegrationEnv("provisional", 3);
  await registerDemoModel(env.db, TENANT);
  processor = await startStreamProcessor(
    loadStreamConfig(
      env.env({
        STREAM_ALLOWED_LATENESS_MS: "0",
        MONITORING_ATTRIBUTION_WINDOW_MS: String(ATTRIBUTION_MS),
        MONITORING_PERFORMANCE_WINDOW_MS: String(WINDOW_MS),
        MONITORING_PERFORMANCE_MIN_SAMPLE: "50",
        MONITORING_CONVERSION_EVENTS: "Purchase",
        // Every batch may rewrite the provisional results (the default is once a minute).
        MONITORING_PROVISIONAL_INTERVAL_MS: "1",
      }),
    ),
    { log: pino({ level: "silent" }) },
  );
}, 180_000);

afterAll(async () => {
  await processor?.stop();
  await env?.cleanup();
});

describe("provisional performance (Kafka → stream processor → Postgres)", () => {
  const rows = scoredRows({ seed: 7, n: 200, startMs: START, stepMs: 1000, idPrefix: "p" });
  const positives = rows.filter((r) => r.label === 1);
  const early = positives.slice(0, Math.ceil(positives.length / 2));
  const rest = positives.slice(early.length);
  const converted = new Set<string>();
  let firstId = "";

  it("shows a window as provisional from the conversions so far, before its attribution ends", async () => {
    expect(early.length).toBeGreaterThan(5);
    expect(rest.length).toBeGreaterThan(5);
    await env.produce(
      env.topics.predictions,
      rows.map((r) => ({
        key: `${TENANT}:${r.predictionId}`,
        value: toValue(predictionRecord(TENANT, r)),
      })),
    );
    await drained();
    await env.produce(env.topics.events, purchases(early));
    await drained();
    for (const r of early) converted.add(r.predictionId);
    // The newest event time is START + 200 s + 1 min: the window [START, START + 5 min) matures
    // at START + 15 min, so everything here is the labels seen so far.
    await waitFor(
      "a provisional result with the early conversions",
      async () => Number((await results())[0]?.positives ?? -1) === early.length,
      30_000,
    );
    const [row, ...others] = await results();
    expect(others).toEqual([]);
    expect(row!.provisional).toBe(true);
    expectValues(row!, rows, converted);
    firstId = row!.id;
  });

  it("updates the same provisional row as more conversions arrive", async () => {
    await env.produce(env.topics.events, purchases(rest));
    await drained();
    for (const r of rest) converted.add(r.predictionId);
    await waitFor(
      "the provisional result to take the later conversions",
      async () => Number((await results())[0]?.positives ?? -1) === positives.length,
      30_000,
    );
    const [row] = await results();
    expect(row!.provisional).toBe(true);
    expect(row!.id).toBe(firstId);
    expectValues(row!, rows, converted);
  });

  it("turns final in place once the watermark passes the attribution period", async () => {
    // Any event of the tenant 20 min after the window's start moves the watermark past maturity.
    const tick = sampleEventMessage({
      tenant: TENANT,
      eventId: "tick-1",
      eventName: "PageView",
      eventTimeMs: START + 20 * MIN,
    });
    await env.produce(env.topics.events, [{ key: `${TENANT}:tick-1`, value: toValue(tick) }]);
    await drained();
    await waitFor(
      "the final result",
      async () => (await results())[0]?.provisional === false,
      30_000,
    );
    const all = await results();
    expect(all).toHaveLength(1);
    expect(all[0]!.id).toBe(firstId);
    expectValues(all[0]!, rows, converted);
    // The final labels as stored agree with what was sent.
    const { rows: stored } = await env.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM predictions WHERE label IS TRUE",
    );
    expect(Number(stored[0]!.n)).toBe(positives.length);
  });
});
