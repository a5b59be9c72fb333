import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import type { Message } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom } from "#core/random";
import { HOUR_MS, MINUTE_MS, toMicros, windowStartMs } from "#core/windows";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../test/support/integration-env";
import { sampleEventMessage, samplePrediction, toValue } from "./testing/sample-messages";

const REPO = resolve(import.meta.dirname, "..");
const UNIQUE_EVENTS = 8_000;
const PREDICTIONS = 1_500;
const RESENT = 800;
const CROSS_TOPIC = 300;
/** Progress fractions at which the processor is SIGKILLed (plus a random delay). */
const KILL_AT = [0.12, 0.3, 0.5, 0.7];

/** Seeded uniform numbers in [0, 1), so a failing run can be replayed. */
const rng = (seed: number): (() => number) => createRandom(seed).next;

interface Truth {
  events: Map<
    string,
    { count: number; conversions: number; mq: number; values: Map<string, bigint> }
  >;
  predictions: Map<string, number>;
  unique: number;
}

/** The workload and its ground truth, computed independently of the pipeline's code. */
function workload(seed: number, base: number) {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const events: { topic: "events" | "capi"; message: Message }[] = [];
  const predictions: Message[] = [];
  const truth: Truth = { events: new Map(), predictions: new Map(), unique: 0 };
  const predictionIds: string[] = [];
  for (let i = 0; i < PREDICTIONS; i++) {
    const tenant = pick(["acme", "globex"]);
    const id = `p-${seed}-${i}`;
    predictionIds.push(id);
    const t = base + Math.floor(rand() * 3 * HOUR_MS);
    predictions.push({
      key: `${tenant}:${id}`,
      value: toValue(samplePrediction({ tenant, predictionId: id, scoredAtMs: t })),
    });
    const k = `${tenant}|${windowStartMs(t, MINUTE_MS)}`;
    truth.predictions.set(k, (truth.predictions.get(k) ?? 0) + 1);
  }
  for (let i = 0; i < UNIQUE_EVENTS; i++) {
    const tenant = pick(["acme", "globex"]);
    const eventName = pick(["Purchase", "Purchase", "Lead", "AddToCart"]);
    const campaign = pick([undefined, "spring", "summer"]);
    const t = base + Math.floor(rand() * 3 * HOUR_MS);
    const value = eventName === "Lead" ? undefined : Math.round(rand() * 50_000) / 100;
    const currency = value === undefined ? undefined : pick(["USD", "EUR"]);
    const predictionId = eventName === "Purchase" && rand() < 0.3 ? pick(predictionIds) : undefined;
    const matchQuality = Math.floor(rand() * 41) / 4;
    const eventId = `e-${seed}-${i}`;
    const opts = {
      tenant,
      eventId,
      eventName,
      eventTimeMs: t,
      campaign,
      value,
      currency,
      predictionId,
      matchQuality,
    };
    const source = rand() < 0.5 ? ("web" as const) : ("capi" as const);
    const message = {
      key: `${tenant}:${eventId}`,
      value: toValue(sampleEventMessage({ ...opts, source })),
    };
    events.push({ topic: source === "web" ? "events" : "capi", message });
    if (i < CROSS_TOPIC) {
      // The browser and the server both report the action (Meta's pixel + CAPI deduplication).
      const other = source === "web" ? "capi" : "web";
      events.push({
        topic: other === "web" ? "events" : "capi",
        message: {
          key: message.key,
          value: toValue(sampleEventMessage({ ...opts, source: other })),
        },
      });
    }
    truth.unique += 1;
    const k = `${tenant}|${windowStartMs(t, MINUTE_MS)}|${eventName}|${campaign ?? ""}`;
    const w = truth.events.get(k) ?? {
      count: 0,
      conversions: 0,
      mq: 0,
      values: new Map<string, bigint>(),
    };
    w.count += 1;
    w.mq += matchQuality;
    if (predictionId !== undefined) w.conversions += 1;
    if (value !== undefined && currency !== undefined) {
      w.values.set(currency, (w.values.get(currency) ?? 0n) + toMicros(value));
    }
    truth.events.set(k, w);
  }
  // Producer retries: exact copies, later in the same partition (same key).
  for (let i = 0; i < RESENT; i++) events.push(events[Math.floor(rand() * events.length)]!);
  return { events, predictions, truth };
}

describe("exactly-once under SIGKILL (real Kafka, real Postgres, processor as a child process)", () => {
  let env: IntegrationEnv;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("eo");
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    await env?.cleanup();
  });

  it("totals in Postgres equal the ground truth after repeated crashes", {
    timeout: 300_000,
  }, async () => {
    const seed = Number(process.env.DRIFTLINE_TEST_SEED ?? Date.now() % 1_000_000);
    const rand = rng(seed + 1);
    const base = Date.now() - 3 * HOUR_MS;
    const { events, predictions, truth } = workload(seed, base);
    await env.produce(
      env.topics.events,
      events.filter((e) => e.topic === "events").map((e) => e.message),
    );
    await env.produce(
      env.topics.capi,
      events.filter((e) => e.topic === "capi").map((e) => e.message),
    );
    await env.produce(env.topics.predictions, predictions);
    const consumed = [env.topics.events, env.topics.capi, env.topics.predictions];
    const total = await env.remaining(consumed);
    expect(total).toBe(events.length + predictions.length);

    const childEnv = {
      ...process.env,
      ...env.env({
        // Small fetches: many short transactions, so kills land between and inside them.
        STREAM_MAX_BYTES_PER_PARTITION: "24000",
        STREAM_PARTITIONS_CONCURRENCY: "3",
        // Frequent rollups, so kills land in them too.
        STREAM_ROLLUP_INTERVAL_MS: "250",
      }),
    };
    const start = () => {
      const stderr: string[] = [];
      const p = spawn(process.execPath, ["--import", "tsx", "stream-processor/main.ts"], {
        cwd: REPO,
        env: { ...childEnv, LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      p.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
      // Resolves once the processor logs that it consumes (its signal handlers are in place).
      const started = new Promise<void>((resolveStarted) => {
        let seen = "";
        p.stdout?.on("data", (d: Buffer) => {
          seen = (seen + d.toString()).slice(-4096);
          if (seen.includes("stream processor started")) resolveStarted();
        });
      });
      return { p, stderr, started };
    };

    const killedAt: number[] = [];
    for (const fraction of KILL_AT) {
      const { p } = start();
      child = p;
      // Polled often and killed soon after: a fast processor drains the rest of the stream in a
      // few hundred milliseconds, and a kill after that would hit an idle process.
      await waitFor(
        `progress past ${fraction}`,
        async () => (await env.remaining(consumed)) <= total * (1 - fraction),
        120_000,
        20,
      );
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 40)));
      p.kill("SIGKILL");
      await new Promise((r) => p.once("exit", r));
      killedAt.push(await env.remaining(consumed));
    }
    // The kills hit a processor in the middle of the stream. On a loaded machine the last one may
    // land just after the stream ran dry; the earlier ones are far from both ends.
    expect(killedAt.every((r) => r < total)).toBe(true);
    expect(killedAt.filter((r) => r > 0).length).toBeGreaterThanOrEqual(KILL_AT.length - 1);

    const last = start();
    child = last.p;
    await last.started;
    await env.drained(consumed, 120_000);
    last.p.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => last.p.once("exit", (c) => r(c)));
    expect(code, last.stderr.join("")).toBe(0);

    // Events: per (tenant, minute, event name, campaign), both sources together (which copy of a
    // browser+server pair is counted first is a race; that it is counted once is not).
    const { rows } = await env.db.query<{
      k: string;
      events: string;
      conversions: string;
      mq: number;
    }>(
      `SELECT tenant_id || '|' || (extract(epoch FROM window_start) * 1000)::bigint || '|' || event_name || '|' || campaign AS k,
              sum(event_count)::text AS events, sum(conversion_count)::text AS conversions,
              sum(match_quality_sum)::float8 AS mq
       FROM metric_windows WHERE window_seconds = 60 AND source <> 'predictions' GROUP BY 1`,
    );
    const actual = new Map(rows.map((r) => [r.k, r]));
    expect(actual.size).toBe(truth.events.size);
    for (const [k, w] of truth.events) {
      const a = actual.get(k);
      expect(a, k).toBeDefined();
      expect([Number(a!.events), Number(a!.conversions), a!.mq], k).toEqual([
        w.count,
        w.conversions,
        w.mq,
      ]);
    }
    const values = await env.db.query<{ k: string; currency: string; value: string }>(
      `SELECT tenant_id || '|' || (extract(epoch FROM window_start) * 1000)::bigint || '|' || event_name || '|' || campaign AS k,
              currency, sum(value_sum)::text AS value
       FROM metric_window_values WHERE window_seconds = 60 GROUP BY 1, 2`,
    );
    const expectedValues = [...truth.events].flatMap(([k, w]) =>
      [...w.values].map(([c, micros]) => `${k}|${c}|${micros}`),
    );
    const actualValues = values.rows.map(
      (r) => `${r.k}|${r.currency}|${BigInt(r.value.replace(".", ""))}`,
    );
    expect(actualValues.sort()).toEqual(expectedValues.sort());

    const preds = await env.db.query<{ k: string; n: string }>(
      `SELECT tenant_id || '|' || (extract(epoch FROM window_start) * 1000)::bigint AS k, sum(prediction_count)::text AS n
       FROM metric_windows WHERE window_seconds = 60 AND source = 'predictions' GROUP BY 1`,
    );
    expect(new Map(preds.rows.map((r) => [r.k, Number(r.n)]))).toEqual(truth.predictions);

    // The hourly totals equal the minutes'; late events are a subset of events.
    const rollup = await env.db.query<{ minutes: string; hours: string; late_ok: boolean }>(
      `SELECT (SELECT sum(event_count + prediction_count) FROM metric_windows WHERE window_seconds = 60)::text AS minutes,
              (SELECT sum(event_count + prediction_count) FROM metric_windows WHERE window_seconds = 3600)::text AS hours,
              (SELECT bool_and(late_count <= event_count) FROM metric_windows) AS late_ok`,
    );
    expect(rollup.rows[0]).toEqual({
      minutes: String(truth.unique + PREDICTIONS),
      hours: String(truth.unique + PREDICTIONS),
      late_ok: true,
    });
    // Hours are rolled up from minutes (periodically, and at SIGTERM): every hour row, column by
    // column, is the sum of its minute rows, and no hour is left marked.
    const mismatched = await env.db.query(
      `WITH minutes AS (
         SELECT tenant_id, to_timestamp(floor(extract(epoch FROM window_start) / 3600) * 3600) AS hour,
                source, event_name, campaign, sum(event_count) AS e, sum(late_count) AS l,
                sum(match_quality_sum) AS q, sum(match_quality_count) AS qc,
                sum(prediction_count) AS p, sum(conversion_count) AS c
         FROM metric_windows WHERE window_seconds = 60 GROUP BY 1, 2, 3, 4, 5
       ), hours AS (
         SELECT tenant_id, window_start AS hour, source, event_name, campaign, event_count AS e,
                late_count AS l, match_quality_sum AS q, match_quality_count AS qc,
                prediction_count AS p, conversion_count AS c
         FROM metric_windows WHERE window_seconds = 3600
       )
       SELECT * FROM minutes FULL JOIN hours USING (tenant_id, hour, source, event_name, campaign)
       WHERE (minutes.e, minutes.l, minutes.q, minutes.qc, minutes.p, minutes.c)
             IS DISTINCT FROM (hours.e, hours.l, hours.q, hours.qc, hours.p, hours.c)`,
    );
    expect(mismatched.rows).toEqual([]);
    const marked = await env.db.query("SELECT 1 FROM metric_hours_pending");
    expect(marked.rowCount).toBe(0);
    const seen = await env.db.query<{ n: string }>("SELECT count(*)::text AS n FROM seen_events");
    expect(Number(seen.rows[0]!.n)).toBe(truth.unique + PREDICTIONS);
    // Model monitoring runs in the same transactions: each prediction is stored exactly once.
    const stored = await env.db.query<{ n: string; distinct: string }>(
      "SELECT count(*)::text AS n, count(DISTINCT prediction_id)::text AS distinct FROM predictions",
    );
    expect(stored.rows[0]).toEqual({ n: String(PREDICTIONS), distinct: String(PREDICTIONS) });
  });
});
