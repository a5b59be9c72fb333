import { createHmac, randomBytes } from "node:crypto";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../testing/fakes";
import type { MonitoringOutbox, OutboxItem } from "./alert-outbox";
import type { MessageProducer } from "./monitoring-publisher";
import { MonitoringPublisher } from "./monitoring-publisher";

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

const secret = `whsec_${randomBytes(32).toString("base64")}`;
const event = {
  specversion: "1.0",
  id: "alert-1",
  source: "/x",
  type: "dev.driftline.drift.changed",
};

function setup(fetchImpl: typeof fetch) {
  const clock = new ManualClock(1_000_000);
  const outbox = new MemoryOutbox(clock);
  const producer = new FakeProducer();
  const publisher = new MonitoringPublisher({
    outbox,
    producer,
    topics: { alerts: "p.alerts", retrainRequests: "p.retrain-requests" },
    webhooks: { secret, timeoutMs: 1000, maxAttempts: 3 },
    backoff: { initialMs: 100, maxMs: 1000 },
    intervalMs: 10,
    clock,
    log: pino({ level: "silent" }),
    fetch: fetchImpl,
  });
  return { clock, outbox, producer, publisher };
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
});
