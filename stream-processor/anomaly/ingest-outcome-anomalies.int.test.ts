/** Rejected and duplicate shares through the processor (real Kafka, real Postgres): the Worker's outcome records are summed per minute, deduplicated, and a spike of rejected events raises one alert. */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INGEST_OUTCOME_TYPE, type IngestOutcome, ingestOutcomeKey } from "#core/events";
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
/** Midnight UTC three days ago: 25 h of history (past the detectors' warm-up), then the spike. */
const T0 = Math.floor((Date.now() - 3 * DAY_MS) / DAY_MS) * DAY_MS;
const HISTORY_MIN = 25 * 60;
const SPIKE_MIN = 20;
const rand = createRandom(1795390900);

interface Totals {
  accepted: number;
  duplicates: number;
  rejected: number;
}

/**
 * One tenant's minutes [from, to): PageView events (they move the event-time watermark that
 * closes minutes) and one ingest outcome record per request, two requests a minute. During
 * `rejecting` minutes three events are rejected for every one accepted (a share of ~0.75: a
 * broken release; the first week's widened range alerts above ~0.6).
 */
function traffic(tenant: string, from: number, to: number, rejecting: boolean, totals: Totals) {
  const messages: { key: string; value: Buffer }[] = [];
  for (let m = from; m < to; m++) {
    const t = T0 + m * MINUTE_MS;
    const events = 1 + poissonFromUniform(4, rand.next());
    for (let i = 0; i < events; i++) {
      messages.push({
        key: tenant,
        value: toValue(
          sampleEventMessage({
            tenant,
            source: "capi",
            pixelId: null,
            eventId: `${tenant}-${m}-${i}`,
            eventName: "PageView",
            eventTimeMs: t + i * 1_000,
          }),
        ),
      });
    }
    for (let r = 0; r < 2; r++) {
      const accepted = 8 + poissonFromUniform(4, rand.next());
      const duplicates = poissonFromUniform(0.5, rand.next());
      const rejected = rejecting ? 3 * accepted : poissonFromUniform(0.05, rand.next());
      totals.accepted += accepted;
      totals.duplicates += duplicates;
      totals.rejected += rejected;
      const outcome: IngestOutcome = {
        type: INGEST_OUTCOME_TYPE,
        v: 1,
        tenant,
        source: "capi",
        requestId: `${tenant}-req-${m}-${r}`,
        receivedAtMs: t + 20_000 + r * 1_000,
        accepted,
        duplicates,
        rejected,
        copies: 0,
      };
      messages.push({
        key: ingestOutcomeKey(tenant, outcome.requestId),
        value: Buffer.from(JSON.stringify(outcome)),
      });
    }
  }
  return messages;
}

describe("ingest outcomes in the stream processor", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("outcomes", 1);
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
      "the records to be processed",
      async () => (await env.remaining([env.topics.capi])) === 0,
      120_000,
    );
  };

  it("sums outcome records once per request and raises one alert on a spike of rejected events", async () => {
    processor = await startStreamProcessor(loadStreamConfig(env.env({})), {
      log: pino({ level: "silent" }),
    });
    const calm: Totals = { accepted: 0, duplicates: 0, rejected: 0 };
    const shop: Totals = { accepted: 0, duplicates: 0, rejected: 0 };
    const history = [
      ...traffic("calm", 0, HISTORY_MIN, false, calm),
      ...traffic("shop", 0, HISTORY_MIN, false, shop),
    ];
    // A redelivered outcome record (a producer retry) is counted once.
    const repeated = history.find((m) => m.key.startsWith("$outcome:shop:"))!;
    await produce([...history, repeated]);
    await produce([
      ...traffic("calm", HISTORY_MIN, HISTORY_MIN + SPIKE_MIN, false, calm),
      ...traffic("shop", HISTORY_MIN, HISTORY_MIN + SPIKE_MIN, true, shop),
      // Later minutes close the spike's minutes (allowed lateness).
      ...traffic("calm", HISTORY_MIN + SPIKE_MIN, HISTORY_MIN + SPIKE_MIN + 10, false, calm),
      ...traffic("shop", HISTORY_MIN + SPIKE_MIN, HISTORY_MIN + SPIKE_MIN + 10, false, shop),
    ]);

    const sums = await env.db.query<{
      tenant_id: string;
      accepted: string;
      duplicates: string;
      rejected: string;
    }>(
      `SELECT tenant_id, sum(accepted)::text AS accepted, sum(duplicates)::text AS duplicates,
         sum(rejected)::text AS rejected
       FROM ingest_outcome_windows GROUP BY tenant_id ORDER BY tenant_id`,
    );
    expect(sums.rows).toEqual([
      { tenant_id: "calm", ...strings(calm) },
      { tenant_id: "shop", ...strings(shop) },
    ]);
    // Outcome records never reach the metric windows: only the PageView rows are there.
    const names = await env.db.query<{ event_name: string }>(
      "SELECT DISTINCT event_name FROM metric_windows ORDER BY 1",
    );
    expect(names.rows.map((r) => r.event_name)).toEqual(["PageView"]);

    await waitFor("the spike's minutes to be evaluated", async () => {
      const { rows } = await env.db.query<{ ok: boolean }>(
        `SELECT evaluated_before >= $1::timestamptz AS ok FROM anomaly_progress
         WHERE tenant_id = 'shop'`,
        [new Date(T0 + (HISTORY_MIN + SPIKE_MIN) * MINUTE_MS).toISOString()],
      );
      return rows[0]?.ok === true;
    });
    const alerts = await env.db.query<{
      tenant_id: string;
      type: string;
      data: {
        series: { metric: string; dimensions: Record<string, string> };
        reason: string;
        observed: number;
        windowStart: string;
      };
    }>(
      `SELECT tenant_id, type, cloud_event->'data' AS data FROM alerts
       WHERE type = 'dev.driftline.anomaly.detected' ORDER BY created_at, alert_id`,
    );
    expect(alerts.rows.map((a) => [a.tenant_id, a.data.series, a.data.reason])).toEqual([
      ["shop", { metric: "rejected-share", dimensions: { source: "capi" } }, "spike"],
    ]);
    const detected = alerts.rows[0]!.data;
    expect(detected.observed).toBeCloseTo(0.75, 1);
    expect(Date.parse(detected.windowStart)).toBe(T0 + HISTORY_MIN * MINUTE_MS);
    // Both shares are watched for both tenants.
    const series = await env.db.query<{ tenant_id: string; metric: string }>(
      `SELECT tenant_id, metric FROM anomaly_series WHERE metric LIKE '%-share'
       ORDER BY tenant_id, metric`,
    );
    expect(series.rows).toEqual([
      { tenant_id: "calm", metric: "duplicate-share" },
      { tenant_id: "calm", metric: "rejected-share" },
      { tenant_id: "shop", metric: "duplicate-share" },
      { tenant_id: "shop", metric: "rejected-share" },
    ]);
  }, 300_000);
});

function strings(t: Totals) {
  return {
    accepted: String(t.accepted),
    duplicates: String(t.duplicates),
    rejected: String(t.rejected),
  };
}
