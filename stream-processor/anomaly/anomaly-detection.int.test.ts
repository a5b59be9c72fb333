/** Anomaly detection through the processor (real Kafka, real Postgres): a Purchase drop to zero raises one alert, survives a restart, resolves. */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom, poissonFromUniform } from "#core/random";
import {
  generateWebhookSecret,
  importWebhookEncryptionKey,
  LOCAL_WEBHOOK_ENCRYPTION_KEY,
  sealWebhookSecret,
} from "#core/webhooks";
import { MINUTE_MS } from "#core/windows";
import {
  type IntegrationEnv,
  startIntegrationEnv,
  waitFor,
} from "../../test/support/integration-env";
import { startWebhookReceiver, type WebhookReceiver } from "../../test/support/webhook-receiver";
import { loadStreamConfig } from "../config";
import { type StreamProcessor, startStreamProcessor } from "../main";
import { sampleEventMessage, toValue } from "../testing/sample-messages";

const DAY_MS = 86_400_000;
/** Midnight UTC three days ago: 25 h of history, then the drop, well inside the past. */
const T0 = Math.floor((Date.now() - 3 * DAY_MS) / DAY_MS) * DAY_MS;
const HISTORY_MIN = 25 * 60;
const rand = createRandom(17);

/** Seeded Poisson traffic of one tenant for minutes [from, to): Purchase (unless dropped) and PageView. */
function traffic(tenant: string, from: number, to: number, purchases: boolean) {
  const messages = [];
  for (let m = from; m < to; m++) {
    const t = T0 + m * MINUTE_MS;
    const counts: [string, number][] = [
      ["Purchase", purchases ? poissonFromUniform(3, rand.next()) : 0],
      ["PageView", poissonFromUniform(2, rand.next())],
    ];
    for (const [eventName, n] of counts) {
      for (let i = 0; i < n; i++) {
        const eventId = `${tenant}-${eventName}-${m}-${i}`;
        messages.push({
          key: tenant,
          value: toValue(
            sampleEventMessage({
              tenant,
              source: "capi",
              pixelId: null,
              eventId,
              eventName,
              eventTimeMs: t + i * 1_000,
              ...(eventName === "Purchase" ? { value: 25, currency: "EUR" } : {}),
            }),
          ),
        });
      }
    }
  }
  return messages;
}

describe("anomaly detection in the stream processor", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;
  let receiver: WebhookReceiver;
  const endpointId = crypto.randomUUID();

  beforeAll(async () => {
    env = await startIntegrationEnv("anomaly", 1);
    // The shop's webhook endpoint, subscribed to anomaly detections only, on a real receiver
    // that verifies each delivery's Standard Webhooks signature.
    receiver = await startWebhookReceiver();
    const secret = generateWebhookSecret();
    await fetch(`${receiver.url}/secrets/${endpointId}`, { method: "PUT", body: secret });
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    await env.db.query(
      `INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, types, secret_sealed)
       VALUES ('shop', $1, $2, $3, $4)`,
      [
        endpointId,
        `${receiver.url}/hooks/${endpointId}`,
        ["dev.driftline.anomaly.detected"],
        await sealWebhookSecret(key, secret, { tenant: "shop", endpointId }),
      ],
    );
  });
  afterAll(async () => {
    await processor?.stop();
    await receiver?.close();
    await env?.cleanup();
  });

  const start = async () => {
    processor = await startStreamProcessor(
      // Checkpoints only on state changes: the restart below must replay the minutes after one.
      loadStreamConfig(
        env.env({
          MONITORING_PUBLISH_INTERVAL_MS: "200",
          STREAM_ANOMALY_CHECKPOINT_MINUTES: "1440",
        }),
      ),
      { log: pino({ level: "silent" }) },
    );
  };
  const produce = async (messages: { key: string; value: Buffer }[]) => {
    for (let i = 0; i < messages.length; i += 500) {
      await env.produce(env.topics.capi, messages.slice(i, i + 500));
    }
    await waitFor(
      "the events to be processed",
      async () => (await env.remaining([env.topics.capi])) === 0,
      120_000,
    );
  };
  const alerts = async () =>
    (
      await env.db.query<{ tenant_id: string; type: string; data: Record<string, unknown> }>(
        `SELECT tenant_id, type, cloud_event->'data' AS data FROM alerts
         WHERE type LIKE 'dev.driftline.anomaly.%' ORDER BY created_at, alert_id`,
      )
    ).rows;

  it("raises exactly one alert when Purchase drops to zero, none for clean traffic; a restart repeats nothing; the return of volume resolves it", async () => {
    // Two tenants with the same seasonal-free Poisson traffic; "shop" loses its Purchases.
    const history = [
      ...traffic("calm", 0, HISTORY_MIN, true),
      ...traffic("shop", 0, HISTORY_MIN, true),
    ];
    const drop1 = [
      ...traffic("calm", HISTORY_MIN, HISTORY_MIN + 30, true),
      ...traffic("shop", HISTORY_MIN, HISTORY_MIN + 30, false),
    ];
    await start();
    await produce([...history, ...drop1]);
    // Half an hour more of the drop, evaluated by later batches: no change, so no checkpoint.
    await produce([
      ...traffic("calm", HISTORY_MIN + 30, HISTORY_MIN + 60, true),
      ...traffic("shop", HISTORY_MIN + 30, HISTORY_MIN + 60, false),
    ]);

    let found = await alerts();
    expect(found.map((a) => [a.tenant_id, a.type])).toEqual([
      ["shop", "dev.driftline.anomaly.detected"],
    ]);
    const detected = found[0]!.data as {
      series: { metric: string; dimensions: Record<string, string> };
      reason: string;
      observed: number;
      expected: number;
      windowStart: string;
    };
    expect(detected.series).toEqual({
      metric: "events",
      dimensions: { source: "capi", eventName: "Purchase", campaign: "" },
    });
    expect(detected.reason).toBe("drop-to-zero");
    expect(detected.observed).toBe(0);
    expect(detected.expected).toBeGreaterThan(1);
    // Caught within a few minutes of the drop (10 expected events at ~3 a minute).
    const delayMin =
      (Date.parse(detected.windowStart) - (T0 + HISTORY_MIN * MINUTE_MS)) / MINUTE_MS;
    expect(delayMin).toBeGreaterThanOrEqual(0);
    expect(delayMin).toBeLessThan(10);
    const open = await env.db.query<{
      tenant_id: string;
      metric: string;
      resolved_at: Date | null;
    }>("SELECT tenant_id, metric, resolved_at FROM anomalies");
    expect(open.rows).toEqual([{ tenant_id: "shop", metric: "events", resolved_at: null }]);

    // The stored detector states are older than the minutes evaluated (a checkpoint at the
    // detection): the restart has to replay the minutes after it from the windows.
    const stored = await env.db.query<{ behind: boolean }>(
      "SELECT state_through < evaluated_before AS behind FROM anomaly_progress WHERE tenant_id = 'shop'",
    );
    expect(stored.rows).toEqual([{ behind: true }]);

    // Restart while the anomaly is open, with Purchases still missing: nothing new.
    await processor!.stop();
    processor = undefined;
    await start();
    await produce([
      ...traffic("calm", HISTORY_MIN + 60, HISTORY_MIN + 120, true),
      ...traffic("shop", HISTORY_MIN + 60, HISTORY_MIN + 120, false),
    ]);
    found = await alerts();
    expect(found.map((a) => a.type)).toEqual(["dev.driftline.anomaly.detected"]);

    // Volume returns: the anomaly resolves, once.
    await produce([
      ...traffic("calm", HISTORY_MIN + 120, HISTORY_MIN + 150, true),
      ...traffic("shop", HISTORY_MIN + 120, HISTORY_MIN + 150, true),
    ]);
    found = await alerts();
    expect(found.map((a) => [a.tenant_id, a.type])).toEqual([
      ["shop", "dev.driftline.anomaly.detected"],
      ["shop", "dev.driftline.anomaly.resolved"],
    ]);
    const resolved = await env.db.query<{ resolved_at: Date | null; peak_score: number }>(
      "SELECT resolved_at, peak_score FROM anomalies WHERE tenant_id = 'shop'",
    );
    expect(resolved.rows[0]!.resolved_at).not.toBeNull();
    expect(resolved.rows[0]!.peak_score).toBeGreaterThan(0.5);

    // Both were delivered through the alerts outbox to the `alerts` topic.
    await waitFor("the anomaly alerts to be published", async () => {
      const { rows } = await env.db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM monitoring_outbox
         WHERE channel = 'alerts' AND ref_id LIKE 'an-%' AND delivered_at IS NOT NULL`,
      );
      return rows[0]!.n === "2";
    });
    // The tenant's endpoint got the detection (the type it subscribed to), signed, once.
    const received = async () =>
      (await (await fetch(`${receiver.url}/received/${endpointId}`)).json()) as {
        body: string;
        verified: boolean;
      }[];
    await waitFor("the webhook delivery", async () => (await received()).length > 0);
    const deliveries = await received();
    expect(deliveries.map((d) => [JSON.parse(d.body).type, d.verified])).toEqual([
      ["dev.driftline.anomaly.detected", true],
    ]);
    const progress = await env.db.query<{ tenant_id: string; series_overflow: string }>(
      "SELECT tenant_id, series_overflow::text FROM anomaly_progress ORDER BY tenant_id",
    );
    expect(progress.rows).toEqual([
      { tenant_id: "calm", series_overflow: "0" },
      { tenant_id: "shop", series_overflow: "0" },
    ]);
  }, 300_000);
});
