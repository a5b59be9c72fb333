/** A tenant whose traffic stops entirely (real Kafka, real Postgres, an accelerated processing clock): its minutes close by wall clock, a drop to zero reaches the alerts topic, restarts repeat nothing; live, sparse and replaying tenants raise nothing. */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom, poissonFromUniform } from "#core/random";
import { MINUTE_MS } from "#core/windows";
import {
  type IntegrationEnv,
  startIntegrationEnv,
  waitFor,
} from "../../test/support/integration-env";
import { readRecords, testKafka } from "../../test/support/kafka-reader";
import type { Clock } from "../clock/clock";
import { systemClock } from "../clock/system-clock";
import { loadStreamConfig } from "../config";
import { type StreamProcessor, startStreamProcessor } from "../main";
import { sampleEventMessage, toValue } from "../testing/sample-messages";

const DAY_MS = 86_400_000;
/** Midnight UTC three days ago: 25 h of live history before the processing clock starts. */
const T0 = Math.floor((Date.now() - 3 * DAY_MS) / DAY_MS) * DAY_MS;
const HISTORY_MIN = 25 * 60;
const GRACE_MS = 3 * MINUTE_MS;
const LATENESS_MS = 2 * MINUTE_MS;
const rand = createRandom(29);

/** The processor's clock: moved by the test a minute at a time; sleeps are real. */
class SteppedClock implements Clock {
  constructor(public now: number) {}
  nowMs(): number {
    return this.now;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

/** Seeded Poisson traffic of `tenant` for minutes [from, to) after T0, with `rates` per event name. */
function traffic(tenant: string, from: number, to: number, rates: Record<string, number>) {
  const messages = [];
  for (let m = from; m < to; m++) {
    for (const [eventName, rate] of Object.entries(rates)) {
      const n = poissonFromUniform(rate, rand.next());
      for (let i = 0; i < n; i++) {
        messages.push({
          key: tenant,
          value: toValue(
            sampleEventMessage({
              tenant,
              source: "capi",
              pixelId: null,
              eventId: `${tenant}-${eventName}-${m}-${i}`,
              eventName,
              eventTimeMs: T0 + m * MINUTE_MS + i * 1_000,
            }),
          ),
        });
      }
    }
  }
  return messages;
}

const SHOP = { Purchase: 3, PageView: 2 };
const CALM = { Purchase: 3, PageView: 2 };
/** A low-volume tenant: one Lead every 20 minutes on average. */
const SPARSE = { Lead: 0.05 };

describe("wall-clock close of silent tenants", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;
  const clock = new SteppedClock(T0 + HISTORY_MIN * MINUTE_MS);

  beforeAll(async () => {
    env = await startIntegrationEnv("idle-close", 1);
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  const start = async () => {
    processor = await startStreamProcessor(
      loadStreamConfig(
        env.env({
          MONITORING_PUBLISH_INTERVAL_MS: "200",
          // Checkpoints only on state changes: a restart replays the closed minutes after one.
          STREAM_ANOMALY_CHECKPOINT_MINUTES: "1440",
          STREAM_ALLOWED_LATENESS_MS: String(LATENESS_MS),
          STREAM_ANOMALY_IDLE_CLOSE_MS: String(GRACE_MS),
          STREAM_ANOMALY_IDLE_CHECK_INTERVAL_MS: "200",
        }),
      ),
      { log: pino({ level: "silent" }), clock },
    );
  };
  const restart = async () => {
    await processor!.stop();
    processor = undefined;
    await start();
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
  const progress = async (tenant: string) => {
    const { rows } = await env.db.query<{ evaluated: string; max: string; advanced: string }>(
      `SELECT (extract(epoch FROM p.evaluated_before) * 1000)::bigint::text AS evaluated,
         (extract(epoch FROM w.max_event_time) * 1000)::bigint::text AS max,
         (extract(epoch FROM w.advanced_at) * 1000)::bigint::text AS advanced
       FROM anomaly_progress p JOIN event_time_watermarks w USING (tenant_id)
       WHERE p.tenant_id = $1`,
      [tenant],
    );
    const r = rows[0]!;
    return { evaluated: Number(r.evaluated), max: Number(r.max), advanced: Number(r.advanced) };
  };
  /** Where the silent tenant's minutes must be closed at the clock's time (the rule, restated). */
  const dueBefore = (p: { max: number; advanced: number }) => {
    const byEvents = Math.floor((p.max - LATENESS_MS) / MINUTE_MS) * MINUTE_MS;
    if (clock.now - p.advanced < GRACE_MS) return byEvents;
    const byClock = p.max + (clock.now - p.advanced) - LATENESS_MS;
    return Math.floor(byClock / MINUTE_MS) * MINUTE_MS;
  };
  const anomalyAlerts = async () =>
    (
      await env.db.query<{ tenant_id: string; alert_id: string; type: string; data: never }>(
        `SELECT tenant_id, alert_id, type, cloud_event->'data' AS data FROM alerts
         WHERE type LIKE 'dev.driftline.anomaly.%' ORDER BY created_at, alert_id`,
      )
    ).rows;

  it("closes a silent tenant's minutes after the grace, detects the drop once across restarts, and leaves live, sparse and replaying tenants alone", async () => {
    // "replay" sends two hours of old history (counted a day after its event time): not live,
    // so its minutes are never closed by wall clock.
    await start();
    await produce([
      ...traffic("shop", 0, HISTORY_MIN, SHOP),
      ...traffic("calm", 0, HISTORY_MIN, CALM),
      ...traffic("sparse", 0, HISTORY_MIN, SPARSE),
      ...traffic("replay", 0, 120, CALM),
    ]);
    const stoppedAt = T0 + HISTORY_MIN * MINUTE_MS;
    // Minute by minute of processing time: "calm" and "sparse" keep sending live, "shop" is silent.
    let detectedAt: number | undefined;
    let restartedBeforeDetection = false;
    for (let k = 0; k < 40 && detectedAt === undefined; k++) {
      clock.now += MINUTE_MS;
      await produce([
        ...traffic("calm", HISTORY_MIN + k, HISTORY_MIN + k + 1, CALM),
        ...traffic("sparse", HISTORY_MIN + k, HISTORY_MIN + k + 1, SPARSE),
      ]);
      const p = await progress("shop");
      const due = dueBefore(p);
      await waitFor("the silent tenant's minutes to close", async () => {
        return (await progress("shop")).evaluated >= due;
      });
      const alerts = await anomalyAlerts();
      if (alerts.some((a) => a.tenant_id === "shop")) detectedAt = clock.now;
      else if (
        !restartedBeforeDetection &&
        due > Math.floor((p.max - LATENESS_MS) / MINUTE_MS) * MINUTE_MS + MINUTE_MS
      ) {
        // Minutes closed by wall clock, the drop not yet detected: a restart replays them.
        restartedBeforeDetection = true;
        await restart();
      }
    }
    expect(restartedBeforeDetection).toBe(true);
    expect(detectedAt).toBeDefined();
    // Within the grace and a few minutes (Purchase at ~3 a minute needs ~4 empty minutes).
    expect(detectedAt! - stoppedAt).toBeLessThanOrEqual(GRACE_MS + LATENESS_MS + 8 * MINUTE_MS);

    // Further silent minutes and a restart after the detection: nothing repeats.
    for (let k = 0; k < 6; k++) {
      clock.now += MINUTE_MS;
      const m = Math.round((clock.now - T0) / MINUTE_MS) - 1;
      await produce([...traffic("calm", m, m + 1, CALM), ...traffic("sparse", m, m + 1, SPARSE)]);
      if (k === 2) await restart();
      const due = dueBefore(await progress("shop"));
      await waitFor(
        "the silent tenant's minutes to close",
        async () => (await progress("shop")).evaluated >= due,
      );
    }

    const alerts = await anomalyAlerts();
    expect(alerts.every((a) => a.tenant_id === "shop")).toBe(true);
    expect(alerts.every((a) => a.type === "dev.driftline.anomaly.detected")).toBe(true);
    const series = alerts.map(
      (a) =>
        (a.data as { series: { dimensions: { eventName: string } }; reason: string }).series
          .dimensions.eventName,
    );
    // One detection per series of the shop at most, each a drop to zero; Purchase among them.
    expect(new Set(series).size).toBe(series.length);
    expect(series).toContain("Purchase");
    expect(alerts.map((a) => (a.data as { reason: string }).reason)).toEqual(
      alerts.map(() => "drop-to-zero"),
    );
    const anomalies = await env.db.query<{ tenant_id: string; n: string }>(
      "SELECT tenant_id, count(*)::text AS n FROM anomalies GROUP BY tenant_id",
    );
    expect(anomalies.rows).toEqual([{ tenant_id: "shop", n: String(alerts.length) }]);

    // The replaying tenant's minutes were closed by its events only.
    const replay = await progress("replay");
    expect(replay.evaluated).toBeLessThanOrEqual(
      Math.floor((replay.max - LATENESS_MS) / MINUTE_MS) * MINUTE_MS,
    );

    // The detections reached the alerts topic, each once.
    const kafka = testKafka("idle-close-test");
    const published = await readRecords(
      kafka,
      env.topics.alerts,
      new Map([[0, "0"]]),
      "shop:anomaly:",
      alerts.length,
      { timeoutMs: 30_000, settleMs: 1_000 },
    );
    expect(published.map((r) => (r.value as { id: string }).id).sort()).toEqual(
      alerts.map((a) => a.alert_id).sort(),
    );
  }, 600_000);
});
