/** Series through the processor (real Kafka, real Postgres): the mean score per model, and an event name series retired after its configured silence, which frees its slot under the cap. */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MINUTE_MS } from "#core/windows";
import {
  type IntegrationEnv,
  startIntegrationEnv,
  waitFor,
} from "../../test/support/integration-env";
import { loadStreamConfig } from "../config";
import { type StreamProcessor, startStreamProcessor } from "../main";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";

const HOUR_MS = 3_600_000;
/** Six hours ago, on a whole minute: every minute below is well inside the accepted past. */
const T0 = Math.floor((Date.now() - 6 * HOUR_MS) / MINUTE_MS) * MINUTE_MS;

describe("series lifecycle in the stream processor", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;
  /** Scores produced per minute (ms), for the expected mean. */
  const scores = new Map<number, number[]>();

  beforeAll(async () => {
    env = await startIntegrationEnv("lifecycle", 1);
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  /** Minutes [from, to) of tenant shop: PageView, the given extra event names, three predictions. */
  function minutes(from: number, to: number, names: readonly string[]) {
    const events: { key: string; value: Buffer }[] = [];
    const predictions: { key: string; value: Buffer }[] = [];
    for (let m = from; m < to; m++) {
      const t = T0 + m * MINUTE_MS;
      for (const [i, eventName] of ["PageView", ...names].entries()) {
        events.push({
          key: "shop",
          value: toValue(
            sampleEventMessage({
              tenant: "shop",
              source: "capi",
              pixelId: null,
              eventId: `${eventName}-${m}`,
              eventName,
              eventTimeMs: t + i * 1_000,
              matchQuality: 6,
            }),
          ),
        });
      }
      const own: number[] = [];
      for (let i = 0; i < 3; i++) {
        const score = ((m * 7 + i * 13) % 100) / 100;
        own.push(score);
        predictions.push({
          key: "shop",
          value: toValue({
            ...samplePrediction({
              tenant: "shop",
              predictionId: `p-${m}-${i}`,
              scoredAtMs: t + 5_000 + i * 1_000,
            }),
            score,
          }),
        });
      }
      scores.set(t, own);
    }
    return { events, predictions };
  }

  /**
   * Minutes [from, to) in chunks of ten, each processed before the next is sent. Events and
   * predictions travel on two topics consumed side by side; the allowed lateness (30 min, set
   * below) keeps a chunk's minutes open until both topics' records of it are counted.
   */
  const produce = async (from: number, to: number, names: readonly string[] = []) => {
    for (let m = from; m < to; m += 10) {
      const batch = minutes(m, Math.min(to, m + 10), names);
      await env.produce(env.topics.predictions, batch.predictions);
      await env.produce(env.topics.capi, batch.events);
      await waitFor(
        "the records to be processed",
        async () => (await env.remaining([env.topics.capi, env.topics.predictions])) === 0,
        120_000,
      );
    }
  };
  const series = async () =>
    (
      await env.db.query<{ key: string }>(
        "SELECT series_key AS key FROM anomaly_series WHERE tenant_id = 'shop'",
      )
    ).rows
      .map((r) => r.key)
      .sort()
      .map((k) => JSON.parse(k) as string[]);
  const overflow = async () =>
    (
      await env.db.query<{ n: string }>(
        "SELECT series_overflow::text AS n FROM anomaly_progress WHERE tenant_id = 'shop'",
      )
    ).rows[0]?.n;
  const evaluatedThrough = (minute: number) =>
    waitFor(`minute ${minute} to be evaluated`, async () => {
      const { rows } = await env.db.query<{ ok: boolean }>(
        `SELECT evaluated_before > $1::timestamptz AS ok FROM anomaly_progress
         WHERE tenant_id = 'shop'`,
        [new Date(T0 + minute * MINUTE_MS).toISOString()],
      );
      return rows[0]?.ok === true;
    });

  it("watches the mean score per model, and retires a silent event series to make room for a new one", async () => {
    processor = await startStreamProcessor(
      loadStreamConfig(
        env.env({
          STREAM_ANOMALY_MAX_SERIES_PER_TENANT: "5",
          STREAM_ANOMALY_RETIRE_AFTER_HOURS: "1",
          STREAM_ANOMALY_CHECKPOINT_MINUTES: "1",
          STREAM_ALLOWED_LATENESS_MS: String(30 * MINUTE_MS),
        }),
      ),
      { log: pino({ level: "silent" }) },
    );
    // Half an hour with Lead events: five series, the cap. Lead stops; a Signup at minute 40
    // will find the cap full.
    await produce(0, 30, ["Lead"]);
    await produce(30, 40);
    await produce(40, 41, ["Signup"]);
    await produce(41, 70);
    await evaluatedThrough(35);
    expect(await series()).toEqual([
      ["events", "capi", "Lead", ""],
      ["events", "capi", "PageView", ""],
      ["match-quality", "capi"],
      ["mean-score", "conversion"],
      ["predictions", "conversion"],
    ]);
    // The mean score series holds the mean of its last minute's scores (computed here).
    const { rows } = await env.db.query<{ last_value: number; ms: string }>(
      `SELECT last_value, (extract(epoch FROM last_minute) * 1000)::bigint::text AS ms
       FROM anomaly_series WHERE tenant_id = 'shop' AND metric = 'mean-score'`,
    );
    const own = scores.get(Number(rows[0]!.ms))!;
    expect(own).toHaveLength(3);
    expect(rows[0]!.last_value).toBeCloseTo(own.reduce((a, b) => a + b, 0) / own.length, 12);

    // The Signup of minute 40 was refused and counted; Lead (last event at minute 29) stays
    // watched for its hour of silence.
    await produce(70, 100);
    await evaluatedThrough(65);
    expect(await overflow()).toBe("1");
    expect((await series()).map((k) => k[2])).toContain("Lead");

    // An hour after its last event Lead is retired; a Signup afterwards is watched.
    await produce(100, 130);
    await evaluatedThrough(95);
    expect((await series()).map((k) => k[2])).not.toContain("Lead");
    await produce(130, 140, ["Signup"]);
    await produce(140, 175);
    await evaluatedThrough(140);
    expect(await series()).toEqual([
      ["events", "capi", "PageView", ""],
      ["events", "capi", "Signup", ""],
      ["match-quality", "capi"],
      ["mean-score", "conversion"],
      ["predictions", "conversion"],
    ]);
    expect(await overflow()).toBe("1");
  }, 300_000);
});
