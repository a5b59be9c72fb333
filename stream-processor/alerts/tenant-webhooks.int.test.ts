/**
 * The processor's side of tenant webhooks against real Postgres (through the Neon relay, in a
 * transaction, as the batch handler and publisher run them): endpoints per tenant and type with
 * opened secrets, the outbox plan, the delivery record, and a delivery signed with an endpoint's
 * secret that a real receiver verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOUDEVENTS_JSON_CONTENT_TYPE, createWebhookSigner } from "#core/monitoring";
import {
  generateWebhookSecret,
  importWebhookEncryptionKey,
  LOCAL_WEBHOOK_ENCRYPTION_KEY,
  sealWebhookSecret,
} from "#core/webhooks";
import {
  type IntegrationEnv,
  type Pool,
  startIntegrationEnv,
  withTransaction,
} from "../../test/support/integration-env";
import { startWebhookReceiver, type WebhookReceiver } from "../../test/support/webhook-receiver";
import {
  type DeliverableEndpoint,
  endpointForDelivery,
  endpointsForAlert,
  planAlertTargets,
  recordWebhookDelivery,
} from "./tenant-webhooks";

const DRIFT = "dev.driftline.drift.changed";
const PERF = "dev.driftline.performance.degraded";

describe("tenant webhooks in the stream processor", () => {
  let env: IntegrationEnv;
  let pool: Pool;
  let key: CryptoKey;
  let receiver: WebhookReceiver;
  const secrets = new Map<string, string>();
  const ids = {
    aAll: crypto.randomUUID(),
    aDrift: crypto.randomUUID(),
    aDeleted: crypto.randomUUID(),
    aForeignSecret: crypto.randomUUID(),
    bAll: crypto.randomUUID(),
  };

  async function insertEndpoint(
    tenant: string,
    id: string,
    types: string[],
    options: { disabled?: boolean; sealedAs?: { tenant: string; endpointId: string } } = {},
  ) {
    const secret = generateWebhookSecret();
    secrets.set(id, secret);
    const sealed = await sealWebhookSecret(
      key,
      secret,
      options.sealedAs ?? { tenant, endpointId: id },
    );
    await env.db.query(
      `INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, types, secret_sealed, disabled_at)
       VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)`,
      [tenant, id, `${receiver.url}/hooks/${id}`, types, sealed, options.disabled ?? false],
    );
  }

  beforeAll(async () => {
    env = await startIntegrationEnv("tenanthooks", 1);
    pool = env.neonPool(2);
    key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    receiver = await startWebhookReceiver();
    await insertEndpoint("a", ids.aAll, []);
    await insertEndpoint("a", ids.aDrift, [DRIFT]);
    await insertEndpoint("a", ids.aDeleted, [], { disabled: true });
    // A row of tenant a holding a secret sealed for tenant b's endpoint: must not open.
    await insertEndpoint("a", ids.aForeignSecret, [PERF], {
      sealedAs: { tenant: "b", endpointId: ids.bAll },
    });
    await insertEndpoint("b", ids.bAll, []);
  });

  afterAll(async () => {
    await pool?.end();
    await receiver?.close();
    await env?.cleanup();
  });

  it("answers the tenant's live endpoints subscribed to the type, with their secrets", async () => {
    const byType = await withTransaction(pool, async (tx) => ({
      aDrift: await endpointsForAlert(tx, key, "a", DRIFT),
      aPerf: await endpointsForAlert(tx, key, "a", PERF),
      bDrift: await endpointsForAlert(tx, key, "b", DRIFT),
      cDrift: await endpointsForAlert(tx, key, "c", DRIFT),
    }));
    const ids_ = (e: DeliverableEndpoint[]) => e.map((x) => x.endpointId).sort();
    expect(ids_(byType.aDrift.endpoints)).toEqual([ids.aAll, ids.aDrift].sort());
    expect(ids_(byType.aPerf.endpoints)).toEqual([ids.aAll]);
    expect(ids_(byType.bDrift.endpoints)).toEqual([ids.bAll]);
    expect(byType.cDrift.endpoints).toEqual([]);
    for (const e of [...byType.aDrift.endpoints, ...byType.bDrift.endpoints]) {
      expect(e.secret).toBe(secrets.get(e.endpointId));
    }
    // The copied secret is refused, named apart, and no other tenant's secret leaks through it.
    expect(byType.aPerf.unopened).toEqual([
      expect.objectContaining({ endpointId: ids.aForeignSecret, tenant: "a" }),
    ]);
    expect(byType.aDrift.unopened).toEqual([]);
  });

  it("opens nothing under another key", async () => {
    const other = await importWebhookEncryptionKey(Buffer.alloc(32, 3).toString("base64"));
    const result = await withTransaction(pool, (tx) => endpointsForAlert(tx, other, "a", DRIFT));
    expect(result.endpoints).toEqual([]);
    expect(result.unopened).toHaveLength(2);
  });

  it("plans outbox targets per alert: its tenant's endpoints by id, then the operator sinks", async () => {
    const plan = await withTransaction(pool, (tx) =>
      planAlertTargets(
        tx,
        [
          { tenant: "a", alertId: "al-1", type: PERF },
          { tenant: "b", alertId: "al-2", type: DRIFT },
          { tenant: "c", alertId: "al-3", type: DRIFT },
        ],
        ["https://ops.example/hook"],
      ),
    );
    expect(plan.map((p) => [p.alert.alertId, p.target])).toEqual([
      ["al-1", `endpoint:${ids.aAll}`],
      ["al-1", `endpoint:${ids.aForeignSecret}`],
      ["al-1", "https://ops.example/hook"],
      ["al-2", `endpoint:${ids.bAll}`],
      ["al-2", "https://ops.example/hook"],
      ["al-3", "https://ops.example/hook"],
    ]);
  });

  it("finds an endpoint for delivery only for its own tenant and while it is live", async () => {
    const found = await withTransaction(pool, async (tx) => ({
      own: await endpointForDelivery(tx, key, "a", ids.aAll),
      foreign: await endpointForDelivery(tx, key, "b", ids.aAll),
      deleted: await endpointForDelivery(tx, key, "a", ids.aDeleted),
      bogus: await endpointForDelivery(tx, key, "a", "'; DROP TABLE webhook_endpoints; --"),
    }));
    expect(found.own).toMatchObject({ endpointId: ids.aAll, secret: secrets.get(ids.aAll) });
    expect(found.foreign).toBeUndefined();
    expect(found.deleted).toBeUndefined();
    expect(found.bogus).toBeUndefined();
  });

  it("records attempts in the tenant's delivery log, never under another tenant", async () => {
    const attempt = {
      endpointId: ids.aAll,
      eventId: "al-9",
      eventType: DRIFT,
      attempt: 2,
      statusCode: 503,
      error: "HTTP 503",
      durationMs: 12.6,
      attemptedAtMs: Date.parse("2026-11-22T12:00:00Z"),
      nextAttemptAtMs: Date.parse("2026-11-22T12:00:30Z"),
    };
    const [own, foreign] = await withTransaction(pool, async (tx) => [
      await recordWebhookDelivery(tx, { ...attempt, tenant: "a" }),
      await recordWebhookDelivery(tx, { ...attempt, tenant: "b" }),
    ]);
    expect(own).toBe(true);
    expect(foreign).toBe(false);
    const { rows } = await env.db.query(
      `SELECT tenant_id, event_id, attempt, status_code, error, succeeded, duration_ms,
              attempted_at, next_attempt_at
       FROM webhook_deliveries WHERE event_id = 'al-9'`,
    );
    expect(rows).toEqual([
      {
        tenant_id: "a",
        event_id: "al-9",
        attempt: 2,
        status_code: 503,
        error: "HTTP 503",
        succeeded: false,
        duration_ms: 13,
        attempted_at: new Date("2026-11-22T12:00:00Z"),
        next_attempt_at: new Date("2026-11-22T12:00:30Z"),
      },
    ]);
  });

  it("signs with the endpoint's own secret: the receiver verifies it with that secret only", async () => {
    const { endpoints } = await withTransaction(pool, (tx) =>
      endpointsForAlert(tx, key, "a", DRIFT),
    );
    for (const e of endpoints) {
      await fetch(`${receiver.url}/secrets/${e.endpointId}`, { method: "PUT", body: e.secret });
    }
    const body = JSON.stringify({ specversion: "1.0", id: "al-10", type: DRIFT, source: "/t" });
    for (const e of endpoints) {
      const headers = createWebhookSigner(e.secret).sign({
        id: "al-10",
        timestampSeconds: Math.floor(Date.now() / 1000),
        body,
      });
      const res = await fetch(e.url, {
        method: "POST",
        headers: { "content-type": CLOUDEVENTS_JSON_CONTENT_TYPE, ...headers },
        body,
      });
      expect(res.status).toBe(204);
    }
    for (const e of endpoints) {
      const got = (await (await fetch(`${receiver.url}/received/${e.endpointId}`)).json()) as {
        verified: boolean;
      }[];
      expect(got.map((g) => g.verified)).toEqual([true]);
    }
  });
});
