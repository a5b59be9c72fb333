// Drift end to end on the real stack: a Kafka broker, Postgres (through the Neon relay) and the
// stream processor as it runs in production. Predictions scored by the demo model stream in from
// the reference distribution (no alert), then with drift on two features: alerts must name
// exactly those features within a bounded number of predictions, a retraining request must be
// stored and published, and a plain kafkajs consumer of `alerts` must receive every alert (as
// does a webhook, signed per Standard Webhooks). The detection delay is printed.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudEvent as SdkCloudEvent } from "cloudevents";
import type { Consumer, KafkaMessage } from "kafkajs";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWebhookSigner } from "#core/monitoring";
import { loadStreamConfig } from "../../stream-processor/config";
import { type StreamProcessor, startStreamProcessor } from "../../stream-processor/main";
import {
  predictionRecord,
  type ScoredRow,
  scoredRows,
  TWO_FEATURE_DRIFT,
} from "../../stream-processor/monitoring/testing/conversion-stream";
import { sampleEventMessage, toValue } from "../../stream-processor/testing/sample-messages";
import { registerDemoModel } from "../support/demo-model";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../support/integration-env";

const TENANT = "acme";
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const WINDOW = 1000;
const STRIDE = 100;
const REFERENCE = 3000;
const MAX_DRIFTED = 2000;
const DRIFTED_FEATURES = ["time_on_site_s", "traffic_source"];
const MIN = 60_000;
// Scoring times start on a whole hour, a day ago, one prediction per second.
const START = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000;

interface Received {
  topic: string;
  message: KafkaMessage;
}

let env: IntegrationEnv;
let processor: StreamProcessor | undefined;
let consumer: Consumer;
let webhook: Server;
const received: Received[] = [];
const webhookCalls: { headers: IncomingHttpHeaders; body: string; status: number }[] = [];
const webhookAttempts = new Map<string, number>();

function webhookServer(): Promise<string> {
  webhook = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      const attempt = (webhookAttempts.get(id) ?? 0) + 1;
      webhookAttempts.set(id, attempt);
      // The first attempt of every delivery fails: the publisher must retry it.
      const status = attempt === 1 ? 503 : 204;
      webhookCalls.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  return new Promise((resolve) =>
    webhook.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/driftline`),
    ),
  );
}

async function produceScored(rows: readonly ScoredRow[], withConversions: boolean): Promise<void> {
  await env.produce(
    env.topics.predictions,
    rows.map((r) => ({
      key: `${TENANT}:${r.predictionId}`,
      value: toValue(predictionRecord(TENANT, r)),
    })),
  );
  if (!withConversions) return;
  // The visitors who converted buy a minute after they were scored; the website event carries
  // the prediction id it was tagged with.
  await env.produce(
    env.topics.events,
    rows
      .filter((r) => r.label === 1)
      .map((r) => {
        const m = sampleEventMessage({
          tenant: TENANT,
          eventId: `buy-${r.predictionId}`,
          eventName: "Purchase",
          eventTimeMs: r.predictedAtMs + MIN,
          value: 49.9,
          currency: "EUR",
          predictionId: r.predictionId,
        });
        return { key: `${TENANT}:${m.eventId}`, value: toValue(m) };
      }),
  );
}

async function drained(): Promise<void> {
  const topics = [env.topics.predictions, env.topics.events];
  await env.drained(topics, 120_000);
}

async function query<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await env.db.query(sql, values)).rows as T[];
}

beforeAll(async () => {
  env = await startIntegrationEnv("drift", 3);
  await registerDemoModel(env.db, TENANT);
  const webhookUrl = await webhookServer();
  consumer = env.kafka.consumer({ groupId: `${env.groupId}-alerts-reader` });
  await consumer.connect();
  await consumer.subscribe({
    topics: [env.topics.alerts, env.topics.retrainRequests],
    fromBeginning: true,
  });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      received.push({ topic, message });
    },
  });
  processor = await startStreamProcessor(
    loadStreamConfig(
      env.env({
        STREAM_ALLOWED_LATENESS_MS: String(10 * MIN),
        MONITORING_WINDOW_SIZE: String(WINDOW),
        MONITORING_WINDOW_STRIDE: String(STRIDE),
        MONITORING_WINDOW_MIN_SAMPLE: "500",
        MONITORING_ATTRIBUTION_WINDOW_MS: String(10 * MIN),
        MONITORING_PERFORMANCE_WINDOW_MS: String(20 * MIN),
        MONITORING_PERFORMANCE_MIN_SAMPLE: "100",
        MONITORING_CONVERSION_EVENTS: "Purchase",
        MONITORING_PUBLISH_INTERVAL_MS: "50",
        MONITORING_OPERATOR_WEBHOOK_URLS: webhookUrl,
        MONITORING_OPERATOR_WEBHOOK_SECRET: SECRET,
        MONITORING_WEBHOOK_TIMEOUT_MS: "2000",
        // The per-tenant drift gauges are off by default; this run checks them on /metrics.
        STREAM_METRICS_TENANT_LABELS: "true",
      }),
    ),
    { log: pino({ level: "silent" }) },
  );
}, 180_000);

afterAll(async () => {
  await processor?.stop();
  await consumer?.disconnect().catch(() => {});
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
  await env?.cleanup();
});

describe("drift end to end (Kafka → stream processor → Postgres, alerts on Kafka and webhooks)", () => {
  const reference = scoredRows({
    seed: 41,
    n: REFERENCE,
    startMs: START,
    stepMs: 1000,
    idPrefix: "ref",
  });
  const drifted = scoredRows({
    seed: 42,
    n: MAX_DRIFTED,
    startMs: START + REFERENCE * 1000,
    stepMs: 1000,
    idPrefix: "drift",
    drift: TWO_FEATURE_DRIFT,
  });
  let delay: Record<string, { first: number; significant: number | undefined }> = {};
  let driftedSent = 0;

  it("reference traffic: drift is evaluated every stride and no alert is raised", async () => {
    // Traffic arrives over time, a few minutes of scoring time per chunk: the partitions never
    // drift apart by more than the allowed lateness.
    for (let i = 0; i < REFERENCE; i += 250) {
      await produceScored(reference.slice(i, i + 250), true);
      await drained();
    }
    const [r] = await query<{ predictions: string; evaluations: string; alerts: string }>(
      `SELECT (SELECT count(*) FROM predictions)::text AS predictions,
              (SELECT count(DISTINCT evaluation_id) FROM drift_results WHERE window_kind = 'sliding')::text AS evaluations,
              (SELECT count(*) FROM alerts)::text AS alerts`,
    );
    expect(Number(r!.predictions)).toBe(REFERENCE);
    expect(Number(r!.evaluations)).toBe((REFERENCE - 500) / STRIDE + 1);
    expect(Number(r!.alerts)).toBe(0);
    // the labels came through the events topic: performance of the first matured window
    const perf = await query<{ auc: number; sample_size: string; positive_count: string }>(
      "SELECT auc, sample_size::text, positive_count::text FROM performance_results ORDER BY window_start",
    );
    expect(perf.length).toBeGreaterThanOrEqual(1);
    expect(Number(perf[0]!.sample_size)).toBe(20 * 60);
    const truth = reference.slice(0, 1200).filter((x) => x.label === 1).length;
    expect(Number(perf[0]!.positive_count)).toBe(truth);
    expect(perf[0]!.auc).toBeGreaterThan(0.8);
    await new Promise((r) => setTimeout(r, 500));
    expect(received).toEqual([]);
  }, 180_000);

  it("drift on two features: alerts name exactly those features within a bounded delay", async () => {
    // One stride at a time, so the delay is known to the stride.
    const firstAlert = new Map<string, number>();
    const significant = new Map<string, number>();
    while (driftedSent < MAX_DRIFTED) {
      await produceScored(drifted.slice(driftedSent, driftedSent + STRIDE), false);
      driftedSent += STRIDE;
      await drained();
      const rows = await query<{ feature: string; to: string }>(
        `SELECT cloud_event->'data'->>'feature' AS feature, cloud_event->'data'->>'to' AS to
         FROM alerts WHERE type = 'dev.driftline.drift.changed'`,
      );
      for (const a of rows) {
        if (!firstAlert.has(a.feature)) firstAlert.set(a.feature, driftedSent);
        if (a.to === "significant" && !significant.has(a.feature))
          significant.set(a.feature, driftedSent);
      }
      const [requests] = await query<{ n: string }>(
        "SELECT count(*)::text AS n FROM retrain_requests",
      );
      if (DRIFTED_FEATURES.every((f) => significant.has(f)) && Number(requests!.n) > 0) break;
    }
    delay = Object.fromEntries(
      [...firstAlert].map(([f, first]) => [f, { first, significant: significant.get(f) }]),
    );
    console.log(
      `detection delay (drifted predictions processed when the alert appeared; window ${WINDOW}, stride ${STRIDE}):`,
      JSON.stringify(delay),
    );
    const named = [...firstAlert.keys()].filter((f) => f !== null).sort();
    expect(named.filter((f) => f !== "__score__")).toEqual(DRIFTED_FEATURES);
    for (const f of DRIFTED_FEATURES) {
      expect(delay[f]!.significant).toBeDefined();
      // bounded: significant before the window is even full of drifted predictions
      expect(delay[f]!.significant!).toBeLessThanOrEqual(WINDOW);
    }
    // no alert ever repeats an unchanged state
    const seq = await query<{ subject: string; to: string }>(
      `SELECT cloud_event->>'subject' AS subject, cloud_event->'data'->>'to' AS to FROM alerts
       WHERE type LIKE 'dev.driftline.drift.%' ORDER BY created_at, alert_id`,
    );
    const last = new Map<string, string>();
    for (const a of seq) {
      expect(last.get(a.subject)).not.toBe(a.to);
      last.set(a.subject, a.to);
    }
  }, 300_000);

  it("a retraining request with its evidence is stored and published on retrain-requests", async () => {
    const requests = await query<{
      request_id: string;
      policy: string;
      evidence: { fired: { policy: string; details: { features?: { feature: string }[] } }[] };
    }>("SELECT request_id, policy, evidence FROM retrain_requests");
    expect(requests).toHaveLength(1);
    const fired = requests[0]!.evidence.fired.find((f) => f.policy.startsWith("psi-above"))!;
    expect(fired.details.features!.every((f) => DRIFTED_FEATURES.includes(f.feature))).toBe(true);
    await waitFor("the request on retrain-requests", async () =>
      received.some((r) => r.topic === env.topics.retrainRequests),
    );
    const message = received.find((r) => r.topic === env.topics.retrainRequests)!.message;
    const body = JSON.parse(message.value!.toString()) as {
      requestId: string;
      tenant: string;
      model: string;
    };
    expect(body).toMatchObject({
      requestId: requests[0]!.request_id,
      tenant: TENANT,
      model: "conversion",
    });
    const [published] = await query<{ published_at: Date | null }>(
      "SELECT published_at FROM retrain_requests",
    );
    expect(published!.published_at).not.toBeNull();
  }, 60_000);

  it("a plain kafkajs consumer of `alerts` receives every alert as a CloudEvent 1.0", async () => {
    const stored = await query<{ alert_id: string; type: string }>(
      "SELECT alert_id, type FROM alerts",
    );
    expect(stored.length).toBeGreaterThanOrEqual(3);
    await waitFor("every alert on the alerts topic", async () => {
      const ids = new Set(
        received
          .filter((r) => r.topic === env.topics.alerts)
          .map((r) => JSON.parse(r.message.value!.toString()).id),
      );
      return stored.every((a) => ids.has(a.alert_id));
    });
    for (const r of received.filter((x) => x.topic === env.topics.alerts)) {
      expect(r.message.headers?.["content-type"]?.toString()).toBe(
        "application/cloudevents+json; charset=UTF-8",
      );
      const event = JSON.parse(r.message.value!.toString());
      expect(new SdkCloudEvent(event).validate()).toBe(true);
      expect(event.subject).toMatch(/^tenants\/acme\/models\/conversion\/versions\/1/);
    }
    const types = new Set(stored.map((a) => a.type));
    expect(types.has("dev.driftline.drift.changed")).toBe(true);
    expect(types.has("dev.driftline.retraining.requested")).toBe(true);
  }, 60_000);

  it("every alert reaches the webhook, signed, after a failed first attempt", async () => {
    const stored = await query<{ alert_id: string }>("SELECT alert_id FROM alerts");
    await waitFor("every alert delivered to the webhook", async () =>
      stored.every((a) =>
        webhookCalls.some((c) => c.headers["webhook-id"] === a.alert_id && c.status === 204),
      ),
    );
    const signer = createWebhookSigner(SECRET);
    for (const call of webhookCalls) {
      expect(() =>
        signer.verify(call.body, {
          "webhook-id": String(call.headers["webhook-id"]),
          "webhook-timestamp": String(call.headers["webhook-timestamp"]),
          "webhook-signature": String(call.headers["webhook-signature"]),
        }),
      ).not.toThrow();
      expect(JSON.parse(call.body).id).toBe(call.headers["webhook-id"]);
    }
    for (const a of stored) expect(webhookAttempts.get(a.alert_id)).toBe(2);
    const outbox = await query<{ channel: string; delivered: string; failed: string }>(
      `SELECT channel, count(delivered_at)::text AS delivered, count(failed_at)::text AS failed
       FROM monitoring_outbox GROUP BY channel ORDER BY channel`,
    );
    expect(outbox.find((o) => o.channel === "webhook")).toMatchObject({
      delivered: String(stored.length),
      failed: "0",
    });
  }, 60_000);

  it("exposes the drift values on /metrics", async () => {
    const text = await (await fetch(`${processor!.apiUrl}/metrics`)).text();
    expect(text).toMatch(
      /driftline_monitoring_psi\{tenant="acme",model="conversion",version="1",feature="time_on_site_s"\} \d/,
    );
    expect(text).toMatch(
      /driftline_monitoring_alerts_total\{type="dev.driftline.drift.changed"\} \d/,
    );
  }, 30_000);
});
