import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../test/support/integration-env";
import { loadStreamConfig } from "./config";
import { type StreamProcessor, startStreamProcessor } from "./main";
import { sampleEventMessage, toValue } from "./testing/sample-messages";

const EVENTS = 20_000;

describe("database outage (real Kafka, real Postgres behind the Neon relay)", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("outage");
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  it("holds the batch while Postgres is unreachable and loses nothing when it returns", {
    timeout: 120_000,
  }, async () => {
    const t0 = Date.now() - 10 * 60_000;
    await env.produce(
      env.topics.events,
      Array.from({ length: EVENTS }, (_, i) => ({
        key: `acme:o-${i}`,
        value: toValue(
          sampleEventMessage({
            eventId: `o-${i}`,
            eventTimeMs: t0 + i * 100,
            value: 1,
            currency: "USD",
          }),
        ),
      })),
    );
    processor = await startStreamProcessor(
      loadStreamConfig(
        env.env({ STREAM_MAX_BYTES_PER_PARTITION: "16000", STREAM_TOPICS: "events" }),
      ),
      { log: pino({ level: "silent" }) },
    );
    const consumed = [env.topics.events];
    await waitFor("some progress", async () => (await env.remaining(consumed)) < EVENTS * 0.95);

    await env.stopRelay();
    await new Promise((r) => setTimeout(r, 1_000));
    const during = await env.remaining(consumed);
    expect(during).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2_000));
    // Nothing was committed (or skipped) while the database was away.
    expect(await env.remaining(consumed)).toBe(during);
    const ready = await fetch(`${processor.apiUrl}/ready`);
    expect(ready.status).toBe(503);
    expect(
      ((await ready.json()) as { checks: { database: { ok: boolean } } }).checks.database.ok,
    ).toBe(false);
    expect(await processor.metrics.registry.metrics()).toMatch(
      /driftline_stream_retries_total\{operation="commit"\} [1-9]/,
    );

    await env.startRelay();
    await env.drained(consumed);
    expect((await fetch(`${processor.apiUrl}/ready`)).status).toBe(200);

    const { rows } = await env.db.query<{ events: string; value: string }>(
      `SELECT (SELECT sum(event_count) FROM metric_windows WHERE window_seconds = 60)::text AS events,
              (SELECT sum(value_sum) FROM metric_window_values WHERE window_seconds = 60)::text AS value`,
    );
    expect(rows[0]).toEqual({ events: String(EVENTS), value: `${EVENTS}.000000` });
    const admin = env.kafka.admin();
    await admin.connect();
    const dlq = await admin.fetchTopicOffsets(env.topics.dlq);
    await admin.disconnect();
    expect(dlq.every((p) => p.high === "0")).toBe(true);
  });
});
