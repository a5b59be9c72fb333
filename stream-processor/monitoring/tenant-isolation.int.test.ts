// One tenant's bad record must not cost the other tenants of its batch their monitoring, with real
// Kafka and Postgres: through the whole processor (the decoder refuses the record), and at the
// batch stage itself, fed a record no decoder would let through (the database refuses it).
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabelSignal } from "#core/monitoring";
import { importWebhookEncryptionKey } from "#core/webhooks";
import {
  type IntegrationEnv,
  startIntegrationEnv,
  waitFor,
} from "../../test/support/integration-env";
import type { StageRecord } from "../batch/batch-stage";
import { systemClock } from "../clock/system-clock";
import { loadStreamConfig } from "../config";
import { batchTransactionOn } from "../db/neon-batch-transactions";
import { DLQ_HEADERS } from "../kafka/kafkajs-dead-letter-sink";
import { type StreamProcessor, startStreamProcessor } from "../main";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";
import { createMonitoring } from "./create-monitoring";
import type { MonitoringRecord } from "./decode-monitoring-record";

const T0 = Date.now() - 30 * 60_000;
const A_PREDICTIONS = 20;
const A_LABELLED = 5;

describe("a bad record in a batch (real Kafka, real Postgres)", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    // One partition per topic: all predictions below are one batch.
    env = await startIntegrationEnv("isolation", 1);
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  it("stores every other record of the batch and dead-letters the bad one with its reason", async () => {
    const prediction = (tenant: string, id: string, features?: Record<string, unknown>) =>
      toValue({
        ...samplePrediction({ tenant, predictionId: id, scoredAtMs: T0 }),
        ...(features === undefined ? {} : { features }),
      });
    // What a producer that skipped the edge's checks could send: JSON.stringify writes the lone
    // surrogate as the escape "\ud800", which JSON.parse turns back into a lone surrogate.
    await env.produce(env.topics.predictions, [
      ...Array.from({ length: A_PREDICTIONS / 2 }, (_, i) => ({
        value: prediction("tenant-a", `a-${i}`),
      })),
      { value: prediction("tenant-b", "b-bad", { device: "\ud800", sessions_7d: 1 }) },
      { value: prediction("tenant-b", "b-good") },
      ...Array.from({ length: A_PREDICTIONS / 2 }, (_, i) => ({
        value: prediction("tenant-a", `a-${A_PREDICTIONS / 2 + i}`),
      })),
    ]);
    processor = await startStreamProcessor(loadStreamConfig(env.env()), {
      log: pino({ level: "silent" }),
    });
    await env.drained([env.topics.predictions]);
    // Conversions of tenant A's predictions, once those are stored (a conversion that arrives
    // first labels its prediction only when the attribution window closes).
    await env.produce(
      env.topics.events,
      Array.from({ length: A_LABELLED }, (_, i) => ({
        value: toValue(
          sampleEventMessage({
            tenant: "tenant-a",
            eventId: `buy-${i}`,
            eventTimeMs: T0 + 60_000,
            predictionId: `a-${i}`,
          }),
        ),
      })),
    );
    await env.drained([env.topics.events]);

    const { rows } = await env.db.query<{ tenant_id: string; prediction_id: string }>(
      "SELECT tenant_id, prediction_id FROM predictions ORDER BY tenant_id, prediction_id",
    );
    const stored = rows.map((r) => `${r.tenant_id}/${r.prediction_id}`);
    expect(stored.filter((s) => s.startsWith("tenant-a/"))).toHaveLength(A_PREDICTIONS);
    expect(stored.filter((s) => s.startsWith("tenant-b/"))).toEqual(["tenant-b/b-good"]);
    const labelled = await env.db.query<{ prediction_id: string }>(
      "SELECT prediction_id FROM predictions WHERE tenant_id = 'tenant-a' AND label ORDER BY 1",
    );
    expect(labelled.rows.map((r) => r.prediction_id)).toEqual(
      Array.from({ length: A_LABELLED }, (_, i) => `a-${i}`),
    );

    const letters = await readLetters(env, 1);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.headers[DLQ_HEADERS.topic]).toBe(env.topics.predictions);
    expect(letters[0]!.headers[DLQ_HEADERS.stage]).toBe("decode");
    expect(letters[0]!.headers[DLQ_HEADERS.reason]).toMatch(
      /features\.device: holds a lone UTF-16 surrogate/,
    );
  });
});

describe("the monitoring stage, when Postgres refuses one record (real Postgres)", () => {
  let env: IntegrationEnv;

  beforeAll(async () => {
    env = await startIntegrationEnv("isolationstage", 1);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it("stores the other tenants' and the tenant's other records, and counts the refused one", async () => {
    const registry = new Registry();
    const config = loadStreamConfig(env.env());
    const monitoring = createMonitoring({
      config: config.monitoring,
      pool: env.db,
      // Never connected: the publisher is not started here.
      kafka: new Kafka({ brokers: env.brokers, logLevel: logLevel.NOTHING }),
      producer: { send: async () => {}, close: async () => {} },
      topics: env.topics,
      registry,
      log: pino({ level: "silent" }),
      clock: systemClock,
      allowedLatenessMs: 0,
      maxFutureSkewMs: 300_000,
      backoff: { initialMs: 10, maxMs: 10 },
      webhookKey: await importWebhookEncryptionKey(config.monitoring.webhooks.encryptionKey),
      allowLocalWebhookUrls: true,
    });
    const predictionOf = (
      tenant: string,
      id: string,
      features?: Record<string, string | number>,
    ) => {
      const m = samplePrediction({ tenant, predictionId: id, scoredAtMs: T0 });
      const record: MonitoringRecord = {
        kind: "prediction",
        row: {
          tenant,
          predictionId: id,
          model: m.model,
          version: m.version,
          entityId: undefined,
          score: m.score,
          features: features ?? m.features,
          predictedAtMs: T0,
        },
      };
      return { observation: { kind: "prediction" as const, tenant }, input: record };
    };
    const label = (tenant: string, predictionId: string): StageRecord => {
      const signal: LabelSignal = {
        tenant,
        eventName: "Purchase",
        eventId: `buy-${predictionId}`,
        eventTimeMs: T0 + 60_000,
        predictionId,
        clickIds: [],
        conversion: true,
      };
      return { observation: { kind: "event", tenant }, input: { kind: "label", signal } };
    };
    // Features a decoder would have refused: here the database is the one to refuse them (a
    // lone surrogate cannot be jsonb), standing for any value it might refuse.
    const records: StageRecord[] = [
      ...Array.from({ length: 8 }, (_, i) => predictionOf("tenant-a", `a-${i}`)),
      predictionOf("tenant-b", "b-1"),
      predictionOf("tenant-b", "b-bad", { device: "\ud800" }),
      predictionOf("tenant-b", "b-2"),
      predictionOf("tenant-c", "c-1"),
      label("tenant-a", "a-0"),
      label("tenant-a", "a-1"),
      label("tenant-b", "b-2"),
    ];

    const client = await env.db.connect();
    try {
      await client.query("BEGIN");
      await monitoring.stage.apply(batchTransactionOn(client), records, Date.now());
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK");
      throw error;
    } finally {
      client.release();
    }

    const { rows } = await env.db.query<{ id: string; labelled: boolean }>(
      `SELECT tenant_id || '/' || prediction_id AS id, label_event_id IS NOT NULL AS labelled
       FROM predictions ORDER BY 1`,
    );
    expect(rows.map((r) => r.id)).toEqual([
      ...Array.from({ length: 8 }, (_, i) => `tenant-a/a-${i}`),
      "tenant-b/b-1",
      "tenant-b/b-2",
      "tenant-c/c-1",
    ]);
    expect(rows.filter((r) => r.labelled).map((r) => r.id)).toEqual([
      "tenant-a/a-0",
      "tenant-a/a-1",
      "tenant-b/b-2",
    ]);
    const refused = await registry
      .getSingleMetric("driftline_monitoring_refused_records_total")
      ?.get();
    expect(refused?.values.filter((v) => v.value > 0)).toEqual([
      { labels: { kind: "prediction", cause: "refused" }, value: 1 },
    ]);
  });
});

async function readLetters(env: IntegrationEnv, count: number) {
  const consumer = env.kafka.consumer({ groupId: `${env.groupId}-reader` });
  const out: { headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: env.topics.dlq, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ headers });
    },
  });
  await waitFor(`${count} dead letters`, async () => out.length >= count, 30_000);
  // A moment more, so that a letter too many would be seen.
  await new Promise((r) => setTimeout(r, 1_000));
  await consumer.disconnect();
  return out;
}
