// A noisy neighbour on the real stack (Kafka, Postgres through the Neon relay, the whole stream
// processor in-process): tenant A's ordinary traffic is processed twice, each run in its own
// corner — once alone, once interleaved record by record with tenant B's hostile traffic in the
// same partitions — and everything the processor stores for A (minute windows, predictions,
// drift results, alerts) must be identical between the two runs. B's damage must stay B's: its
// poison records are dead-lettered, its flood of names and campaigns lands under (other).
import type { Message } from "kafkajs";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createRandom, type Random } from "#core/random";
import { loadStreamConfig } from "../../stream-processor/config";
import { DLQ_HEADERS } from "../../stream-processor/kafka/kafkajs-dead-letter-sink";
import { type StreamProcessor, startStreamProcessor } from "../../stream-processor/main";
import {
  predictionRecord,
  type ScoredRow,
  scoredRows,
  TWO_FEATURE_DRIFT,
} from "../../stream-processor/monitoring/testing/conversion-stream";
import {
  sampleEventMessage,
  samplePrediction,
  toValue,
} from "../../stream-processor/testing/sample-messages";
import { registerDemoModel } from "../support/demo-model";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../support/integration-env";

const A = "tenant-a";
const B = "tenant-b";
const MIN = 60_000;
const CAP = 20;
const REFERENCE = 800;
const DRIFTED = 500;
// Scoring times start ten minutes before a whole hour a day ago, one prediction per second: the
// watermark passes the end of that hour, so an hourly drift evaluation is compared too.
const START = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000 + 50 * MIN;
// Kafka refuses a record batch over 1 MiB, and one send to one partition is one batch.
const MAX_SEND_BYTES = 600_000;

interface Produced {
  topic: "predictions" | "events";
  message: Message;
}

interface Snapshot {
  windows: unknown[];
  values: unknown[];
  predictions: unknown[];
  drift: unknown[];
  alerts: unknown[];
}

/** Tenant A: the demo model's traffic (reference, then drift on two features) and its website events. */
function tenantATraffic(): { predictions: Produced[]; events: Produced[] } {
  const rows: ScoredRow[] = [
    ...scoredRows({ seed: 41, n: REFERENCE, startMs: START, stepMs: 1000, idPrefix: "ref" }),
    ...scoredRows({
      seed: 42,
      n: DRIFTED,
      startMs: START + REFERENCE * 1000,
      stepMs: 1000,
      idPrefix: "drift",
      drift: TWO_FEATURE_DRIFT,
    }),
  ];
  const predictions = rows.map(
    (r): Produced => ({
      topic: "predictions",
      message: { key: `${A}:${r.predictionId}`, value: toValue(predictionRecord(A, r)) },
    }),
  );
  const random = createRandom(7);
  const campaigns = ["spring", "retarget", "brand", undefined];
  const currencies = ["EUR", "USD", "GBP"];
  const events: Produced[] = [];
  rows.forEach((r, i) => {
    // Visitors who converted buy a minute after they were scored, tagged with the prediction.
    if (r.label === 1) {
      events.push(
        aEvent({
          eventId: `buy-${r.predictionId}`,
          eventName: "Purchase",
          eventTimeMs: r.predictedAtMs + MIN,
          value: 49.9,
          currency: "EUR",
          campaign: campaigns[random.int(campaigns.length)],
          predictionId: r.predictionId,
        }),
      );
    }
    if (i % 3 === 0) events.push(aOrdinaryEvent(random, i, r.predictedAtMs, campaigns, currencies));
  });
  return { predictions, events };
}

function aOrdinaryEvent(
  random: Random,
  i: number,
  eventTimeMs: number,
  campaigns: readonly (string | undefined)[],
  currencies: readonly string[],
): Produced {
  const name = ["PageView", "AddToCart", "Lead"][random.int(3)]!;
  const valued = name !== "PageView";
  return aEvent({
    eventId: `ev-${i}`,
    eventName: name,
    eventTimeMs: eventTimeMs + random.int(30_000),
    campaign: campaigns[random.int(campaigns.length)],
    matchQuality: 4 + random.int(13) / 2,
    ...(valued
      ? { value: (1 + random.int(20_000)) / 100, currency: currencies[random.int(3)]! }
      : {}),
  });
}

function aEvent(o: Parameters<typeof sampleEventMessage>[0]): Produced {
  const m = sampleEventMessage({ ...o, tenant: A });
  return { topic: "events", message: { key: `${A}:${m.eventId}`, value: toValue(m) } };
}

/** JSON nested `depth` arrays deep around `inner`. */
function nested(depth: number, inner: string): string {
  return `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
}

/**
 * Tenant B, a buggy or hostile producer that bypassed the edge. `poison` records must be
 * dead-lettered; `accepted` ones are well-formed (if absurd) and counted for B alone. Keys name
 * each record, so its dead letter can be traced back.
 */
function tenantBTraffic(random: Random): {
  predictions: Produced[];
  events: Produced[];
  poisonKeys: string[];
  unstored: string[];
} {
  const poisonKeys: string[] = [];
  const unstored: string[] = [];
  const predictions: Produced[] = [];
  const events: Produced[] = [];
  const at = (i: number) => START + (i % 1300) * 1000;
  const prediction = (i: number, patch: Record<string, unknown>) => ({
    ...samplePrediction({ tenant: B, predictionId: `b-${i}`, scoredAtMs: at(i) }),
    ...patch,
  });
  const event = (i: number, patch: Record<string, unknown> = {}, o = {}) => ({
    ...sampleEventMessage({
      tenant: B,
      eventId: `b-ev-${i}`,
      eventTimeMs: at(i),
      value: 10,
      currency: "EUR",
      ...o,
    }),
    ...patch,
  });
  const add = (
    into: Produced[],
    topic: Produced["topic"],
    key: string,
    value: Buffer | string | null,
    poison: boolean,
  ) => {
    into.push({
      topic,
      message: { key, value: typeof value === "string" ? Buffer.from(value) : value },
    });
    if (poison) poisonKeys.push(key);
  };
  // 20,000 levels with an escape at the bottom: deeper than any stack-bound walk of it could go
  // (the text checks refuse it as too deep). With the large invalid values below, B's dead letters
  // in one batch add up to more than a Kafka request may carry.
  const deep = nested(20_000, '"\\u0000"');
  for (let i = 0; i < 15; i++) {
    // JSON.stringify writes a lone surrogate as an escape: valid UTF-8 bytes, an ill-formed string.
    const p = (k: string, patch: Record<string, unknown>) =>
      add(predictions, "predictions", `${B}:bad-${k}-${i}`, toValue(prediction(i, patch)), true);
    p("feature-surrogate", { features: { device: "\ud800", sessions_7d: 1 } });
    p("feature-nul", { features: { country: "D\u0000E" } });
    p("feature-key-surrogate", { features: { "\udfffx": 1 } });
    p("id-surrogate", { predictionId: `b\udc00-${i}` });
    p("model-nul", { model: "conv\u0000ersion" });
    // Well-formed for the schema but not for the predictions table (score in [0, 1], ids up to
    // 128 characters): counted in B's windows, never stored for monitoring.
    for (const patch of [
      { predictionId: `b-score-${i}`, score: 5 },
      { predictionId: `b-${"9".repeat(1_000)}-${i}` },
    ]) {
      unstored.push(patch.predictionId);
      add(
        predictions,
        "predictions",
        `${B}:${patch.predictionId}`,
        toValue(prediction(i, patch)),
        false,
      );
    }
    add(
      predictions,
      "predictions",
      `${B}:bad-pred-json-${i}`,
      '{"schemaVersion":1,"tenant":',
      true,
    );
    add(predictions, "predictions", `${B}:bad-pred-empty-${i}`, null, true);
    if (i < 3) {
      add(
        predictions,
        "predictions",
        `${B}:bad-pred-huge-${i}`,
        `{"x":"${"y".repeat(400_000)}`,
        true,
      );
    }
    add(
      predictions,
      "predictions",
      `${B}:bad-pred-deep-${i}`,
      `{"schemaVersion":1,"tenant":"${B}","features":${deep}}`,
      true,
    );
    add(predictions, "predictions", `${B}:bad-pred-deep-root-${i}`, nested(5_000, "1"), true);
    // Bogus model versions: well-formed, counted as B's predictions, monitored by nobody.
    const bogus = (k: string, patch: Record<string, unknown>) =>
      add(predictions, "predictions", `${B}:${k}-${i}`, toValue(prediction(i, patch)), false);
    bogus("bogus-version", { version: `v${random.int(1_000_000)}` });
    bogus("bogus-model", { model: "ghost", version: "0" });
    bogus("huge-feature", {
      predictionId: `b-big-${i}`,
      features: { blob: "x".repeat(200_000 + random.int(1000)) },
    });
  }
  for (let i = 0; i < 15; i++) {
    const e = (k: string, patch: Record<string, unknown>, o = {}) =>
      add(events, "events", `${B}:bad-${k}-${i}`, toValue(event(1000 + i, patch, o)), true);
    e("name-surrogate", {}, { eventName: "Purchase\ud800" });
    e("campaign-surrogate", {}, { campaign: "spring\udbff" });
    e("campaign-nul", {}, { campaign: "spr\u0000ing" });
    e("id-nul", { eventId: `b\u0000${i}` });
    e("huge-value", { value: 1e30 });
    e("long-name", {}, { eventName: "N".repeat(300) });
    e("tenant-nul", { tenant: `${B}\u0000` });
    add(events, "events", `${B}:bad-ev-json-${i}`, '{"tenant":"tenant-b","eventName":"Pu', true);
    add(events, "events", `${B}:bad-ev-deep-root-${i}`, nested(5_000, "{}"), true);
    // A Meta event nested deep is never stored: the envelope is well-formed, so it is counted.
    add(
      events,
      "events",
      `${B}:deep-meta-${i}`,
      JSON.stringify(event(2000 + i)).replace(/"event":\{/, `"event":{"deep":${deep},`),
      false,
    );
  }
  // A flood of distinct names and campaigns, three times the caps.
  for (let i = 0; i < 3 * CAP; i++) {
    add(
      events,
      "events",
      `${B}:flood-${i}`,
      toValue(event(3000 + i, {}, { eventName: `name-${i}`, campaign: `campaign-${i}` })),
      false,
    );
  }
  return { predictions, events, poisonKeys, unstored };
}

/** A's records in order, with B's interleaved between them at seeded random places. */
function interleave(a: readonly Produced[], b: readonly Produced[], random: Random): Produced[] {
  const out: Produced[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    out.push(a[i]!);
    const remainingA = a.length - i - 1;
    const share =
      remainingA === 0 ? b.length - j : random.int(2 * Math.ceil((b.length - j) / remainingA) + 1);
    for (let k = 0; k < share && j < b.length; k++) out.push(b[j++]!);
  }
  return out;
}

async function produceAll(env: IntegrationEnv, records: readonly Produced[]): Promise<void> {
  // Every record in partition 0 of its topic, in the order given: B shares A's partitions.
  let batch: Produced[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await env.produce(
      env.topics[batch[0]!.topic],
      batch.map((r) => ({ ...r.message, partition: 0 })),
    );
    batch = [];
    bytes = 0;
  };
  for (const r of records) {
    const size = (r.message.value as Buffer | null)?.length ?? 0;
    if (batch.length > 0 && (batch[0]!.topic !== r.topic || bytes + size > MAX_SEND_BYTES)) {
      await flush();
    }
    batch.push(r);
    bytes += size + 100;
  }
  await flush();
}

interface RunResult {
  a: Snapshot;
  b: {
    windows: { event_name: string; campaign: string; events: string }[];
    dims: unknown[];
    predictionIds: string[];
  };
  deadLetters: { key: string; reason: string; topic: string }[];
  ms: number;
}

async function run(name: string, withB: boolean): Promise<RunResult> {
  const started = Date.now();
  const env = await startIntegrationEnv(name, 1);
  let processor: StreamProcessor | undefined;
  try {
    // B monitors the same model, so its predictions of conversion/1 are stored (and can be refused).
    for (const tenant of withB ? [A, B] : [A]) await registerDemoModel(env.db, tenant);
    processor = await startStreamProcessor(
      loadStreamConfig(
        env.env({
          // The watermark closes the first scoring hour (an hourly drift evaluation). Which of A's
          // events come late is the same in both runs: each topic is one partition, and the
          // predictions are processed before the events are produced.
          STREAM_ALLOWED_LATENESS_MS: String(10 * MIN),
          STREAM_MAX_EVENT_NAMES_PER_TENANT: String(CAP),
          STREAM_MAX_CAMPAIGNS_PER_TENANT: String(CAP),
          MONITORING_WINDOW_SIZE: "400",
          MONITORING_WINDOW_STRIDE: "100",
          MONITORING_WINDOW_MIN_SAMPLE: "200",
          MONITORING_ATTRIBUTION_WINDOW_MS: String(10 * MIN),
          MONITORING_CONVERSION_EVENTS: "Purchase",
          MONITORING_PUBLISH_INTERVAL_MS: "50",
        }),
      ),
      { log: pino({ level: "silent" }) },
    );
    const a = tenantATraffic();
    const b = withB ? tenantBTraffic(createRandom(99)) : { predictions: [], events: [] };
    const random = createRandom(5);
    // Predictions first, then the events that label them: the labels do not depend on which
    // topic the processor happens to read first.
    for (const [aPart, bPart, topic] of [
      [a.predictions, b.predictions, env.topics.predictions],
      [a.events, b.events, env.topics.events],
    ] as const) {
      await produceAll(env, interleave(aPart, bPart, random));
      await env.drained([topic], 60_000);
    }
    const deadLetters = await readDeadLetters(env);
    return {
      a: await snapshot(env, A),
      b: {
        windows: (
          await env.db.query<{ event_name: string; campaign: string; events: string }>(
            `SELECT event_name, campaign, sum(event_count)::text AS events FROM metric_windows
             WHERE tenant_id = $1 AND window_seconds = 60 AND source <> 'predictions'
             GROUP BY 1, 2 ORDER BY 1, 2`,
            [B],
          )
        ).rows,
        dims: (
          await env.db.query(
            `SELECT tenant_id, dimension, count(*)::int AS n FROM tenant_dimension_values
             GROUP BY 1, 2 ORDER BY 1, 2`,
          )
        ).rows,
        predictionIds: (
          await env.db.query<{ prediction_id: string }>(
            "SELECT prediction_id FROM predictions WHERE tenant_id = $1",
            [B],
          )
        ).rows.map((r) => r.prediction_id),
      },
      deadLetters,
      ms: Date.now() - started,
    };
  } finally {
    await processor?.stop();
    await env.cleanup();
  }
}

/** Everything the processor stored for `tenant`, without ids and wall-clock times. */
async function snapshot(env: IntegrationEnv, tenant: string): Promise<Snapshot> {
  const q = async (sql: string) => (await env.db.query(sql, [tenant])).rows;
  return {
    windows: await q(
      `SELECT window_seconds, window_start, source, event_name, campaign, event_count, late_count,
              match_quality_sum, match_quality_count, prediction_count, conversion_count
       FROM metric_windows WHERE tenant_id = $1 ORDER BY 1, 2, 3, 4, 5`,
    ),
    values: await q(
      `SELECT window_seconds, window_start, source, event_name, campaign, currency,
              value_sum::text, value_count
       FROM metric_window_values WHERE tenant_id = $1 ORDER BY 1, 2, 3, 4, 5, 6`,
    ),
    predictions: await q(
      `SELECT prediction_id, model_name, version, score, features, predicted_at, label,
              label_event_id
       FROM predictions WHERE tenant_id = $1 ORDER BY prediction_id`,
    ),
    drift: await q(
      `SELECT evaluation_id, model_name, version, feature, test, value, p_value, band, is_drift,
              bins, reference_size, current_size, window_kind, window_start, window_end
       FROM drift_results WHERE tenant_id = $1 ORDER BY evaluation_id, feature, test`,
    ),
    alerts: await q(
      `SELECT type, model_name, version, cloud_event->>'subject' AS subject,
              cloud_event->'data' AS data
       FROM alerts WHERE tenant_id = $1 ORDER BY 1, 4, (cloud_event->'data')::text`,
    ),
  };
}

async function readDeadLetters(env: IntegrationEnv) {
  const ends = await (async () => {
    const admin = env.kafka.admin();
    await admin.connect();
    try {
      return await admin.fetchTopicOffsets(env.topics.dlq);
    } finally {
      await admin.disconnect();
    }
  })();
  const expected = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const out: { key: string; reason: string; topic: string }[] = [];
  if (expected === 0) return out;
  const consumer = env.kafka.consumer({ groupId: `${env.groupId}-dlq-reader` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: env.topics.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push({
          key: String(message.key),
          reason: String(message.headers?.[DLQ_HEADERS.reason]),
          topic: String(message.headers?.[DLQ_HEADERS.topic]),
        });
      },
    });
    await waitFor(`${expected} dead letters`, async () => out.length >= expected, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe("a noisy neighbour (tenant B's hostile traffic in tenant A's partitions)", () => {
  let alone: RunResult;
  let crowded: RunResult;
  const bExpected = tenantBTraffic(createRandom(99));

  afterAll(() => {
    if (alone && crowded) {
      console.log(
        `noisy neighbour: A alone ${alone.ms} ms, A with B ${crowded.ms} ms; A's ${alone.a.windows.length} windows, ${alone.a.values.length} value rows, ${alone.a.drift.length} drift results, ${alone.a.alerts.length} alerts; B's ${crowded.deadLetters.length} dead letters`,
      );
    }
  });

  it("processes A alone: windows, drift evaluations and alerts", async () => {
    alone = await run("noisyalone", false);
    expect(alone.deadLetters).toEqual([]);
    // The comparison below is only worth something if A's run produced all of these.
    expect(alone.a.windows.length).toBeGreaterThan(20);
    expect(alone.a.values.length).toBeGreaterThan(20);
    expect(alone.a.predictions).toHaveLength(REFERENCE + DRIFTED);
    expect(
      alone.a.predictions.filter((p) => (p as { label: boolean | null }).label !== null).length,
    ).toBeGreaterThan(0);
    const kinds = new Set(alone.a.drift.map((d) => (d as { window_kind: string }).window_kind));
    expect(kinds).toEqual(new Set(["sliding", "hourly"]));
    expect(alone.a.alerts.length).toBeGreaterThan(0);
  }, 90_000);

  it("A's results with B interleaved are exactly those of A alone", async () => {
    crowded = await run("noisycrowded", true);
    expect(crowded.a.windows).toEqual(alone.a.windows);
    expect(crowded.a.values).toEqual(alone.a.values);
    expect(crowded.a.predictions).toEqual(alone.a.predictions);
    expect(crowded.a.drift).toEqual(alone.a.drift);
    expect(crowded.a.alerts).toEqual(alone.a.alerts);
  }, 90_000);

  it("B's poison records are dead-lettered, and only those", () => {
    expect(crowded.deadLetters.map((l) => l.key).sort()).toEqual([...bExpected.poisonKeys].sort());
    for (const l of crowded.deadLetters) expect(l.reason.length).toBeGreaterThan(0);
    // Predictions the table cannot hold are skipped by monitoring; B's well-formed ones are stored.
    for (const id of bExpected.unstored) expect(crowded.b.predictionIds).not.toContain(id);
    expect(crowded.b.predictionIds).toContain("b-big-0");
  });

  it("B's flood lands under (other) for B, within the caps; A keeps its own names", () => {
    const names = new Set(crowded.b.windows.map((w) => w.event_name));
    const campaigns = new Set(crowded.b.windows.map((w) => w.campaign));
    expect(names.has("(other)")).toBe(true);
    expect(campaigns.has("(other)")).toBe(true);
    expect([...names].filter((n) => n !== "(other)").length).toBeLessThanOrEqual(CAP);
    expect([...campaigns].filter((c) => c !== "(other)" && c !== "").length).toBeLessThanOrEqual(
      CAP,
    );
    const aNames = (crowded.a.windows as { event_name: string; campaign: string }[]).flatMap(
      (w) => [w.event_name, w.campaign],
    );
    expect(aNames).not.toContain("(other)");
    expect(crowded.b.dims).toContainEqual({ tenant_id: B, dimension: "event_name", n: CAP });
    expect(crowded.b.dims).toContainEqual({ tenant_id: B, dimension: "campaign", n: CAP });
  });
});
