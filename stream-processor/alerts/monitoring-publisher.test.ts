import { createHmac, randomBytes } from "node:crypto";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../testing/fakes";
import type { MonitoringOutbox, OutboxItem } from "./alert-outbox";
import type { MessageProducer } from "./monitoring-publisher";
import { MonitoringPublisher } from "./monitoring-publisher";
import type {
  DeliverableEndpoint,
  TenantEndpoints,
  UnopenedEndpoint,
  WebhookDeliveryRecord,
} from "./tenant-webhooks";

/** The outbox in memory, with the same claim/lease semantics as the SQL one. */
class MemoryOutbox implements MonitoringOutbox {
  rows: (OutboxItem & { nextMs: number; delivered: boolean; failed: boolean; error?: string })[] =
    [];
  constructor(private readonly clock: ManualClock) {}
  add(item: Omit<OutboxItem, "id" | "attempts">) {
    this.rows.push({
      ...item,
      id: String(this.rows.length + 1),
      attempts: 0,
      nextMs: 0,
      delivered: false,
      failed: false,
    });
  }
  async claimDue(channels: readonly OutboxItem["channel"][], limit: number, leaseMs: number) {
    const due = this.rows
      .filter(
        (r) =>
          !r.delivered && !r.failed && r.nextMs <= this.clock.now && channels.includes(r.channel),
      )
      .slice(0, limit);
    for (const r of due) r.nextMs = this.clock.now + leaseMs;
    return due.map((r) => ({ ...r }));
  }
  async markDelivered(items: readonly OutboxItem[]) {
    for (const i of items) {
      const r = this.rows.find((x) => x.id === i.id)!;
      r.delivered = true;
      r.attempts += 1;
    }
  }
  async markFailed(item: OutboxItem, error: string, next: number | undefined) {
    const r = this.rows.find((x) => x.id === item.id)!;
    r.attempts += 1;
    r.error = error;
    if (next === undefined) r.failed = true;
    else r.nextMs = next;
  }
  async pendingCount() {
    return this.rows.filter((r) => !r.delivered && !r.failed).length;
  }
  async purge() {
    return { predictions: 0, labelKeys: 0, outbox: 0 };
  }
}

class FakeProducer implements MessageProducer {
  sent: { topic: string; key: string; value: string; headers: Record<string, string> }[] = [];
  failures = 0;
  async send(
    topic: string,
    messages: { key: string; value: string; headers: Record<string, string> }[],
  ) {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error("broker down");
    }
    for (const m of messages) this.sent.push({ topic, ...m });
  }
  async close() {}
}

/** Endpoints in memory, keyed by tenant and id as the SQL lookup is. */
class MemoryEndpoints implements TenantEndpoints {
  readonly rows = new Map<string, DeliverableEndpoint | UnopenedEndpoint>();
  readonly records: WebhookDeliveryRecord[] = [];
  add(e: DeliverableEndpoint | UnopenedEndpoint) {
    this.rows.set(`${e.tenant}/${e.endpointId}`, e);
  }
  async find(tenant: string, endpointId: string) {
    return this.rows.get(`${tenant}/${endpointId}`);
  }
  async record(attempt: WebhookDeliveryRecord) {
    this.records.push(attempt);
  }
}

const secret = `whsec_${randomBytes(32).toString("base64")}`;
const event = {
  specversion: "1.0",
  id: "alert-1",
  source: "/x",
  type: "dev.driftline.drift.changed",
};

function setup(
  fetchImpl: typeof fetch,
  options: { operatorSecret?: string | undefined; allowLocalUrls?: boolean } = {},
) {
  const clock = new ManualClock(1_000_000);
  const outbox = new MemoryOutbox(clock);
  const producer = new FakeProducer();
  const endpoints = new MemoryEndpoints();
  const logs: string[] = [];
  const publisher = new MonitoringPublisher({
    outbox,
    producer,
    topics: { alerts: "p.alerts", retrainRequests: "p.retrain-requests" },
    webhooks: {
      operatorSecret: "operatorSecret" in options ? options.operatorSecret : secret,
      timeoutMs: 1000,
      maxAttempts: 3,
      allowLocalUrls: options.allowLocalUrls ?? false,
    },
    endpoints,
    backoff: { initialMs: 100, maxMs: 1000 },
    intervalMs: 10,
    clock,
    log: pino({ level: "debug" }, { write: (line: string) => logs.push(line) }),
    fetch: fetchImpl,
  });
  return { clock, outbox, producer, publisher, endpoints, logs };
}

/** The Standard Webhooks v1 signature of a delivery under `whsec`. */
function signatureOf(whsec: string, id: string, ts: string, body: string): string {
  const key = Buffer.from(whsec.slice(6), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64")}`;
}

describe("MonitoringPublisher", () => {
  it("publishes alerts as structured CloudEvents and requests as JSON, keyed, and marks them delivered", async () => {
    const { outbox, producer, publisher } = setup(async () => new Response(null, { status: 204 }));
    outbox.add({
      tenant: "t",
      channel: "alerts",
      refId: "alert-1",
      target: "",
      messageKey: "t:m:1",
      payload: event,
    });
    outbox.add({
      tenant: "t",
      channel: "retrain-requests",
      refId: "r-1",
      target: "",
      messageKey: "t:m",
      payload: { requestId: "r-1" },
    });
    expect(await publisher.publishKafka()).toBe(2);
    expect(producer.sent).toEqual([
      {
        topic: "p.alerts",
        key: "t:m:1",
        value: JSON.stringify(event),
        headers: { "content-type": "application/cloudevents+json; charset=UTF-8" },
      },
      {
        topic: "p.retrain-requests",
        key: "t:m",
        value: '{"requestId":"r-1"}',
        headers: { "content-type": "application/json" },
      },
    ]);
    expect(outbox.rows.every((r) => r.delivered)).toBe(true);
  });

  it("keeps retrying Kafka with back-off when the broker is down", async () => {
    const { clock, outbox, producer, publisher } = setup(
      async () => new Response(null, { status: 204 }),
    );
    outbox.add({
      tenant: "t",
      channel: "alerts",
      refId: "alert-1",
      target: "",
      messageKey: "k",
      payload: event,
    });
    producer.failures = 2;
    await publisher.publishKafka();
    expect(outbox.rows[0]).toMatchObject({
      delivered: false,
      failed: false,
      attempts: 1,
      error: "broker down",
    });
    expect(await publisher.publishKafka()).toBe(0); // not due yet
    clock.now += 10_000;
    await publisher.publishKafka();
    clock.now += 10_000;
    await publisher.publishKafka();
    expect(outbox.rows[0]).toMatchObject({ delivered: true, attempts: 3 });
    expect(producer.sent).toHaveLength(1);
  });

  it("signs webhook deliveries (same webhook-id on every attempt) and gives up after the last attempt", async () => {
    const calls: { headers: Headers; body: string }[] = [];
    const { clock, outbox, publisher } = setup(async (_url, init) => {
      calls.push({ headers: new Headers(init?.headers), body: String(init?.body) });
      return new Response("no", { status: 500 });
    });
    outbox.add({
      tenant: "t",
      channel: "webhook",
      refId: "alert-1",
      target: "https://hooks.example/a?token=x",
      messageKey: "k",
      payload: event,
    });
    for (let i = 0; i < 4; i++) {
      await publisher.deliverWebhooks();
      clock.now += 60_000;
    }
    expect(calls).toHaveLength(3);
    expect(outbox.rows[0]).toMatchObject({ failed: true, attempts: 3, error: "HTTP 500" });
    const key = Buffer.from(secret.slice(6), "base64");
    for (const c of calls) {
      const id = c.headers.get("webhook-id")!;
      const ts = c.headers.get("webhook-timestamp")!;
      expect(id).toBe("alert-1");
      expect(c.headers.get("content-type")).toBe("application/cloudevents+json; charset=UTF-8");
      const expected = createHmac("sha256", key).update(`${id}.${ts}.${c.body}`).digest("base64");
      expect(c.headers.get("webhook-signature")).toBe(`v1,${expected}`);
    }
  });

  it("a webhook that times out or throws is retried, and one that answers 2xx is done", async () => {
    let n = 0;
    const { clock, outbox, publisher } = setup(async () => {
      n += 1;
      if (n === 1) throw new TypeError("fetch failed");
      return new Response(null, { status: 202 });
    });
    outbox.add({
      tenant: "t",
      channel: "webhook",
      refId: "alert-2",
      target: "https://hooks.example/b",
      messageKey: "k",
      payload: event,
    });
    await publisher.deliverWebhooks();
    expect(outbox.rows[0]).toMatchObject({ delivered: false, error: "fetch failed" });
    clock.now += 60_000;
    await publisher.deliverWebhooks();
    expect(outbox.rows[0]).toMatchObject({ delivered: true, attempts: 2 });
  });

  it("says why an operator sink without a secret gets nothing", async () => {
    const calls: string[] = [];
    const { outbox, publisher } = setup(
      async (url) => {
        calls.push(String(url));
        return new Response(null, { status: 204 });
      },
      { operatorSecret: undefined },
    );
    outbox.add({
      tenant: "t",
      channel: "webhook",
      refId: "alert-1",
      target: "https://ops.example/h",
      messageKey: "k",
      payload: event,
    });
    await publisher.deliverWebhooks();
    expect(calls).toEqual([]);
    expect(outbox.rows[0]?.error).toBe("no MONITORING_OPERATOR_WEBHOOK_SECRET to sign with");
  });
});

describe("MonitoringPublisher, tenant endpoints", () => {
  const endpointId = "0b7e4a52-5a9e-4f3c-9d55-2c1f0e6b8a11";
  const endpointSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const endpoint: DeliverableEndpoint = {
    endpointId,
    tenant: "acme",
    url: "https://hooks.acme.example/driftline",
    types: [],
    secret: endpointSecret,
  };
  const queued = {
    tenant: "acme",
    channel: "webhook" as const,
    refId: "alert-1",
    target: `endpoint:${endpointId}`,
    messageKey: "k",
    payload: event,
  };

  it("signs with the endpoint's own secret, POSTs to its URL without following redirects, and records the attempt", async () => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const { clock, outbox, publisher, endpoints } = setup(async (url, init) => {
      calls.push({ url: String(url), init });
      return new Response(null, { status: 204 });
    });
    endpoints.add(endpoint);
    outbox.add(queued);
    await publisher.deliverWebhooks();
    expect(calls.map((c) => c.url)).toEqual([endpoint.url]);
    const init = calls[0]!.init!;
    expect(init.redirect).toBe("manual");
    const headers = new Headers(init.headers);
    const body = String(init.body);
    const ts = headers.get("webhook-timestamp")!;
    expect(headers.get("webhook-id")).toBe("alert-1");
    expect(headers.get("webhook-signature")).toBe(signatureOf(endpointSecret, "alert-1", ts, body));
    // Not the operator's signature: one tenant's receiver cannot be fed with the operator's key.
    expect(headers.get("webhook-signature")).not.toBe(signatureOf(secret, "alert-1", ts, body));
    expect(outbox.rows[0]).toMatchObject({ delivered: true, attempts: 1 });
    expect(endpoints.records).toEqual([
      {
        tenant: "acme",
        endpointId,
        eventId: "alert-1",
        eventType: "dev.driftline.drift.changed",
        attempt: 1,
        statusCode: 204,
        error: undefined,
        durationMs: expect.any(Number),
        attemptedAtMs: clock.now,
        nextAttemptAtMs: undefined,
      },
    ]);
  });

  it("records each failed attempt with when the next is due, and none once given up", async () => {
    const { clock, outbox, publisher, endpoints } = setup(
      async () => new Response(null, { status: 302, headers: { location: "http://10.0.0.1/" } }),
    );
    endpoints.add(endpoint);
    outbox.add(queued);
    for (let i = 0; i < 3; i++) {
      await publisher.deliverWebhooks();
      clock.now += 60_000;
    }
    expect(outbox.rows[0]).toMatchObject({ failed: true, attempts: 3, error: "HTTP 302" });
    expect(endpoints.records.map((r) => [r.attempt, r.statusCode, r.error])).toEqual([
      [1, 302, "HTTP 302"],
      [2, 302, "HTTP 302"],
      [3, 302, "HTTP 302"],
    ]);
    const [first, second, last] = endpoints.records;
    expect(first!.nextAttemptAtMs).toBeGreaterThan(first!.attemptedAtMs);
    expect(second!.nextAttemptAtMs).toBeGreaterThan(second!.attemptedAtMs);
    expect(last!.nextAttemptAtMs).toBeUndefined();
  });

  it("drops the delivery of a deleted endpoint without sending or recording", async () => {
    const calls: string[] = [];
    const { outbox, publisher, endpoints } = setup(async (url) => {
      calls.push(String(url));
      return new Response(null, { status: 204 });
    });
    outbox.add(queued);
    // Another tenant's endpoint with this id is not this delivery's endpoint.
    endpoints.add({ ...endpoint, tenant: "globex" });
    await publisher.deliverWebhooks();
    expect(calls).toEqual([]);
    expect(outbox.rows[0]).toMatchObject({ delivered: true });
    expect(endpoints.records).toEqual([]);
  });

  it("gives up at once, saying why, when the secret does not open, and logs no secret", async () => {
    const calls: string[] = [];
    const { outbox, publisher, endpoints, logs } = setup(async (url) => {
      calls.push(String(url));
      return new Response(null, { status: 204 });
    });
    endpoints.add({
      endpointId,
      tenant: "acme",
      reason: "the sealed secret does not authenticate",
    });
    outbox.add(queued);
    await publisher.deliverWebhooks();
    expect(calls).toEqual([]);
    expect(outbox.rows[0]).toMatchObject({
      failed: true,
      attempts: 1,
      error: "the endpoint's secret cannot be opened: the sealed secret does not authenticate",
    });
    expect(endpoints.records).toEqual([
      expect.objectContaining({ attempt: 1, statusCode: undefined, nextAttemptAtMs: undefined }),
    ]);
    expect(logs.join("")).toContain("webhook delivery given up");
  });

  it("checks the URL again when delivering: loopback only outside production", async () => {
    const local = { ...endpoint, url: "http://127.0.0.1:9/hook" };
    const production = setup(async () => new Response(null, { status: 204 }));
    production.endpoints.add(local);
    production.outbox.add(queued);
    await production.publisher.deliverWebhooks();
    expect(production.outbox.rows[0]).toMatchObject({ failed: true, attempts: 1 });
    expect(production.outbox.rows[0]?.error).toMatch(/rule: https-only/);
    const privateHost = setup(async () => new Response(null, { status: 204 }), {
      allowLocalUrls: true,
    });
    privateHost.endpoints.add({ ...endpoint, url: "http://10.1.2.3/hook" });
    privateHost.outbox.add(queued);
    await privateHost.publisher.deliverWebhooks();
    expect(privateHost.outbox.rows[0]?.error).toMatch(/rule: private-address/);

    const calls: string[] = [];
    const localRun = setup(
      async (url) => {
        calls.push(String(url));
        return new Response(null, { status: 204 });
      },
      { allowLocalUrls: true },
    );
    localRun.endpoints.add(local);
    localRun.outbox.add(queued);
    await localRun.publisher.deliverWebhooks();
    expect(calls).toEqual([local.url]);
    expect(localRun.outbox.rows[0]).toMatchObject({ delivered: true });
  });

  it("never writes the endpoint's secret to the log", async () => {
    const { clock, outbox, publisher, endpoints, logs } = setup(
      async () => new Response(null, { status: 500 }),
    );
    endpoints.add(endpoint);
    outbox.add(queued);
    for (let i = 0; i < 3; i++) {
      await publisher.deliverWebhooks();
      clock.now += 60_000;
    }
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join("")).not.toContain(endpointSecret.slice(6));
    expect(logs.join("")).not.toContain(endpoint.url);
  });
});
