// Tenant webhooks end to end on the real stack: a Kafka broker, Postgres (through the Neon relay)
// and the whole stream processor. Two tenants register endpoints (rows sealed with the core's
// functions, as the Worker's route stores them); drifted predictions of tenant A raise alerts,
// which must reach A's endpoints only, signed with each endpoint's own secret and verified by a
// real receiver with the `standardwebhooks` library, and be recorded in webhook_deliveries.
// B's endpoint gets nothing, the operator sink gets A's alerts under the operator secret, and an
// endpoint deleted while its deliveries wait for a retry gets nothing more.
import { randomBytes } from "node:crypto";
import pino from "pino";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateWebhookSecret,
  importWebhookEncryptionKey,
  LOCAL_WEBHOOK_ENCRYPTION_KEY,
  sealWebhookSecret,
} from "#core/webhooks";
import { loadStreamConfig } from "../../stream-processor/config";
import { type StreamProcessor, startStreamProcessor } from "../../stream-processor/main";
import {
  predictionRecord,
  scoredRows,
  TWO_FEATURE_DRIFT,
} from "../../stream-processor/monitoring/testing/conversion-stream";
import { toValue } from "../../stream-processor/testing/sample-messages";
import { registerDemoModel } from "../support/demo-model";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../support/integration-env";
import {
  type ReceivedDelivery,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../support/webhook-receiver";

const A = "acme";
const B = "globex";
const OPERATOR_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** Publisher back-off: long enough that a retry is never due while the test deletes an endpoint. */
const RETRY_INITIAL_MS = 6_000;
const START = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000;

let env: IntegrationEnv;
let processor: StreamProcessor | undefined;
let receiver: WebhookReceiver;
const ids = { aKeep: crypto.randomUUID(), aGone: crypto.randomUUID(), b: crypto.randomUUID() };
const secrets = new Map<string, string>();

async function registerEndpoint(tenant: string, id: string, query = ""): Promise<void> {
  const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
  const secret = generateWebhookSecret();
  secrets.set(id, secret);
  await fetch(`${receiver.url}/secrets/${id}`, { method: "PUT", body: secret });
  await env.db.query(
    `INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, types, secret_sealed)
     VALUES ($1, $2, $3, '{}', $4)`,
    [
      tenant,
      id,
      `${receiver.url}/hooks/${id}${query}`,
      await sealWebhookSecret(key, secret, { tenant, endpointId: id }),
    ],
  );
}

async function receivedBy(channel: string): Promise<ReceivedDelivery[]> {
  return (await (await fetch(`${receiver.url}/received/${channel}`)).json()) as ReceivedDelivery[];
}

async function query<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await env.db.query(sql, values)).rows as T[];
}

beforeAll(async () => {
  env = await startIntegrationEnv("tenanthooks", 3);
  receiver = await startWebhookReceiver();
  for (const tenant of [A, B]) await registerDemoModel(env.db, tenant);
  await registerEndpoint(A, ids.aKeep);
  // Answers 503 to every attempt, so its deliveries wait for a retry when it is deleted.
  await registerEndpoint(A, ids.aGone, "?status=503");
  await registerEndpoint(B, ids.b);
  await fetch(`${receiver.url}/secrets/operator`, { method: "PUT", body: OPERATOR_SECRET });
  processor = await startStreamProcessor(
    loadStreamConfig(
      env.env({
        STREAM_ALLOWED_LATENESS_MS: String(10 * 60_000),
        STREAM_RETRY_INITIAL_MS: String(RETRY_INITIAL_MS),
        STREAM_RETRY_MAX_MS: String(4 * RETRY_INITIAL_MS),
        MONITORING_WINDOW_SIZE: "1000",
        MONITORING_WINDOW_STRIDE: "100",
        MONITORING_WINDOW_MIN_SAMPLE: "500",
        MONITORING_PUBLISH_INTERVAL_MS: "50",
        MONITORING_WEBHOOK_TIMEOUT_MS: "2000",
        MONITORING_WEBHOOK_MAX_ATTEMPTS: "20",
        MONITORING_OPERATOR_WEBHOOK_URLS: `${receiver.url}/hooks/operator`,
        MONITORING_OPERATOR_WEBHOOK_SECRET: OPERATOR_SECRET,
      }),
    ),
    { log: pino({ level: "silent" }) },
  );
}, 180_000);

afterAll(async () => {
  await processor?.stop();
  await receiver?.close();
  await env?.cleanup();
});

describe("tenant webhooks end to end (Kafka → stream processor → tenant endpoints)", () => {
  let alertIds: string[] = [];

  it("tenant A's drift alerts are stored and queued for A's endpoints and the operator sink", async () => {
    // Only A scores drifted traffic: every alert is A's. The demo model's reference is in
    // model_versions, so drift shows from the first evaluation on.
    const rows = scoredRows({
      seed: 7,
      n: 2000,
      startMs: START,
      stepMs: 1000,
      idPrefix: "d",
      drift: TWO_FEATURE_DRIFT,
    });
    for (let sent = 0; sent < rows.length && alertIds.length === 0; sent += 250) {
      await env.produce(
        env.topics.predictions,
        rows.slice(sent, sent + 250).map((r) => ({
          key: `${A}:${r.predictionId}`,
          value: toValue(predictionRecord(A, r)),
        })),
      );
      await env.drained([env.topics.predictions], 120_000);
      alertIds = (await query<{ alert_id: string }>("SELECT alert_id FROM alerts")).map(
        (a) => a.alert_id,
      );
    }
    expect(alertIds.length).toBeGreaterThan(0);
    const tenants = await query<{ tenant_id: string }>("SELECT DISTINCT tenant_id FROM alerts");
    expect(tenants).toEqual([{ tenant_id: A }]);
    const queued = await query<{ ref_id: string; target: string }>(
      "SELECT ref_id, target FROM monitoring_outbox WHERE channel = 'webhook'",
    );
    const expected = alertIds.flatMap((id) => [
      `${id} endpoint:${ids.aKeep}`,
      `${id} endpoint:${ids.aGone}`,
      `${id} ${receiver.url}/hooks/operator`,
    ]);
    expect(queued.map((q) => `${q.ref_id} ${q.target}`).sort()).toEqual(expected.sort());
  }, 300_000);

  it("every alert reaches A's endpoint, signed with its own secret; B's endpoint gets nothing", async () => {
    await waitFor("A's endpoint to receive every alert", async () => {
      const got = new Set((await receivedBy(ids.aKeep)).map((d) => d.headers["webhook-id"]));
      return alertIds.every((id) => got.has(id));
    });
    const deliveries = await receivedBy(ids.aKeep);
    expect(deliveries.map((d) => d.verifyError)).toEqual(deliveries.map(() => undefined));
    expect(deliveries.every((d) => d.verified)).toBe(true);
    for (const d of deliveries) {
      expect(JSON.parse(d.body)).toMatchObject({ id: d.headers["webhook-id"] });
      // Neither B's secret nor the operator's signs A's deliveries.
      expect(() => new Webhook(secrets.get(ids.b)!).verify(d.body, d.headers)).toThrow();
      expect(() => new Webhook(OPERATOR_SECRET).verify(d.body, d.headers)).toThrow();
    }
    // The operator sink receives A's alerts too, under the operator secret.
    await waitFor("the operator sink to receive every alert", async () => {
      const got = new Set((await receivedBy("operator")).map((d) => d.headers["webhook-id"]));
      return alertIds.every((id) => got.has(id));
    });
    expect((await receivedBy("operator")).every((d) => d.verified)).toBe(true);
    expect(await receivedBy(ids.b)).toEqual([]);
  }, 120_000);

  it("records each delivery in A's delivery log, none under B", async () => {
    await waitFor("every delivery to A's endpoint recorded", async () => {
      const [r] = await query<{ n: string }>(
        "SELECT count(*)::text AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND succeeded",
        [ids.aKeep],
      );
      return Number(r!.n) >= alertIds.length;
    });
    const log = await query<{
      tenant_id: string;
      event_id: string;
      attempt: number;
      status_code: number;
      succeeded: boolean;
      next_attempt_at: Date | null;
    }>(
      `SELECT tenant_id, event_id, attempt, status_code, succeeded, next_attempt_at
       FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY event_id`,
      [ids.aKeep],
    );
    expect(log.map((r) => r.event_id).sort()).toEqual([...alertIds].sort());
    for (const r of log) {
      expect(r).toMatchObject({
        tenant_id: A,
        attempt: 1,
        status_code: 204,
        succeeded: true,
        next_attempt_at: null,
      });
    }
    const foreign = await query("SELECT 1 FROM webhook_deliveries WHERE tenant_id = $1", [B]);
    expect(foreign).toEqual([]);
  }, 60_000);

  it("an endpoint deleted while its deliveries wait for a retry gets nothing more", async () => {
    // Quiet: every delivery to it has been attempted, recorded, and waits for a retry due at
    // least a second from now (none is in flight or about to be claimed).
    await waitFor("every delivery to the failing endpoint to wait for a retry", async () => {
      const [r] = await query<{
        rows: string;
        waiting: string;
        attempts: string;
        recorded: string;
      }>(
        `SELECT count(*)::text AS rows,
                count(*) FILTER (WHERE attempts >= 1
                  AND next_attempt_at > now() + interval '1 second'
                  AND next_attempt_at < now() + interval '30 seconds')::text AS waiting,
                coalesce(sum(attempts), 0)::text AS attempts,
                (SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1)::text AS recorded
         FROM monitoring_outbox WHERE target = $2`,
        [ids.aGone, `endpoint:${ids.aGone}`],
      );
      return (
        Number(r!.rows) === alertIds.length && r!.waiting === r!.rows && r!.attempts === r!.recorded
      );
    });
    // As DELETE /v1/webhooks/{id} does.
    await env.db.query(
      "UPDATE webhook_endpoints SET disabled_at = now() WHERE tenant_id = $1 AND endpoint_id = $2",
      [A, ids.aGone],
    );
    const before = (await receivedBy(ids.aGone)).length;
    expect(before).toBeGreaterThanOrEqual(alertIds.length);
    expect((await receivedBy(ids.aGone)).every((d) => d.verified)).toBe(true);
    const [recorded] = await query<{ n: string }>(
      "SELECT count(*)::text AS n FROM webhook_deliveries WHERE endpoint_id = $1",
      [ids.aGone],
    );
    expect(Number(recorded!.n)).toBe(before);
    // Its queued deliveries are dropped when their retry is due, without being sent.
    await waitFor(
      "the deleted endpoint's deliveries to be dropped",
      async () =>
        (
          await query(
            "SELECT 1 FROM monitoring_outbox WHERE target = $1 AND delivered_at IS NULL",
            [`endpoint:${ids.aGone}`],
          )
        ).length === 0,
      4 * RETRY_INITIAL_MS,
    );
    expect(await receivedBy(ids.aGone)).toHaveLength(before);
    const after = await query<{ n: string }>(
      "SELECT count(*)::text AS n FROM webhook_deliveries WHERE endpoint_id = $1",
      [ids.aGone],
    );
    expect(after).toEqual([{ n: String(before) }]);
  }, 120_000);
});
