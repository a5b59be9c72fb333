/** Per-pixel series through the processor (real Kafka, real Postgres): CAPI events counted once per Meta pixel and minute, and one pixel's drop to zero detected while another pixel flows. */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom, poissonFromUniform } from "#core/random";
import { MINUTE_MS } from "#core/windows";
import {
  type IntegrationEnv,
  startIntegrationEnv,
  waitFor,
} from "../../test/support/integration-env";
import { loadStreamConfig } from "../config";
import { type StreamProcessor, startStreamProcessor } from "../main";
import { sampleEventMessage, toValue } from "../testing/sample-messages";

const DAY_MS = 86_400_000;
const T0 = Math.floor((Date.now() - 3 * DAY_MS) / DAY_MS) * DAY_MS;
const HISTORY_MIN = 25 * 60;
const rand = createRandom(41);

/** CAPI PageViews of "shop" for minutes [from, to) after T0: ~3 a minute per pixel sending. */
function traffic(from: number, to: number, pixels: readonly string[]) {
  const messages = [];
  let sent = 0;
  for (let m = from; m < to; m++) {
    for (const pixelId of pixels) {
      const n = poissonFromUniform(3, rand.next());
      for (let i = 0; i < n; i++) {
        messages.push({
          key: "shop",
          value: toValue(
            sampleEventMessage({
              tenant: "shop",
              source: "capi",
              pixelId,
              eventId: `${pixelId}-${m}-${i}`,
              eventName: "PageView",
              eventTimeMs: T0 + m * MINUTE_MS + i * 1_000,
            }),
          ),
        });
        sent += 1;
      }
    }
  }
  return { messages, sent };
}

describe("per-pixel series in the stream processor", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("pixel-series", 1);
    processor = await startStreamProcessor(loadStreamConfig(env.env()), {
      log: pino({ level: "silent" }),
    });
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

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

  it("counts each pixel's events once and raises a drop to zero on the pixel that stops", async () => {
    const history = traffic(0, HISTORY_MIN, ["111", "222"]);
    // Pixel 111 stops; 222 goes on. A redelivered copy of the last history minute counts nothing.
    const after = traffic(HISTORY_MIN, HISTORY_MIN + 30, ["222"]);
    await produce(history.messages);
    await produce([...history.messages.slice(-20), ...after.messages]);

    const { rows: counts } = await env.db.query<{ pixel_id: string; n: string }>(
      `SELECT pixel_id, sum(event_count)::text AS n FROM pixel_minute_windows
       WHERE tenant_id = 'shop' GROUP BY pixel_id ORDER BY pixel_id`,
    );
    const sentPer = (pixel: string) =>
      [...history.messages, ...after.messages].filter(
        (m) => String(JSON.parse(m.value.toString()).pixelId) === pixel,
      ).length;
    expect(counts).toEqual([
      { pixel_id: "111", n: String(sentPer("111")) },
      { pixel_id: "222", n: String(sentPer("222")) },
    ]);
    const { rows: total } = await env.db.query<{ n: string }>(
      `SELECT sum(event_count)::text AS n FROM metric_windows
       WHERE tenant_id = 'shop' AND window_seconds = 60`,
    );
    expect(total[0]!.n).toBe(String(history.sent + after.sent));

    const { rows: anomalies } = await env.db.query<{
      metric: string;
      dimensions: Record<string, string>;
      reason: string;
    }>("SELECT metric, dimensions, reason FROM anomalies WHERE tenant_id = 'shop'");
    expect(anomalies).toEqual([
      {
        metric: "pixel-events",
        dimensions: { source: "capi", pixel: "111" },
        reason: "drop-to-zero",
      },
    ]);
    const { rows: alerts } = await env.db.query<{ summary: string }>(
      `SELECT cloud_event->'data'->>'summary' AS summary FROM alerts
       WHERE type = 'dev.driftline.anomaly.detected'`,
    );
    expect(alerts.map((a) => a.summary)).toEqual([
      expect.stringMatching(/^pixel-events \(capi, pixel 111\) dropped to zero/),
    ]);
  }, 300_000);
});
