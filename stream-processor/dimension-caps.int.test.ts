/** A flood of distinct event names and campaigns for one tenant, through the processor (real Kafka and Postgres). */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IntegrationEnv, startIntegrationEnv } from "../test/support/integration-env";
import { loadStreamConfig } from "./config";
import { type StreamProcessor, startStreamProcessor } from "./main";
import { sampleEventMessage, toValue } from "./testing/sample-messages";

const T0 = Date.now() - 30 * 60_000;

describe("distinct event names and campaigns per tenant are capped", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("dimcaps");
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  it("stores 500 event names + (other) for a flooding tenant, leaving another tenant's windows alone", async () => {
    const event = (tenant: string, i: number, eventName: string, campaign?: string) => ({
      key: `${tenant}:e-${i}`,
      value: toValue(
        sampleEventMessage({ tenant, eventId: `e-${i}`, eventName, eventTimeMs: T0, campaign }),
      ),
    });
    const flood = Array.from({ length: 600 }, (_, i) =>
      event("flood", i, `name-${String(i).padStart(3, "0")}`, i < 30 ? `c-${i}` : undefined),
    );
    // The flood's names again after the cap filled: known ones stay, the rest stay (other).
    const again = Array.from({ length: 600 }, (_, i) =>
      event("flood", 1_000 + i, `name-${String(i).padStart(3, "0")}`),
    );
    const calm = Array.from({ length: 40 }, (_, i) =>
      event("calm", i, ["Purchase", "Lead"][i % 2]!, `c-${i % 4}`),
    );
    // One key per tenant, so each tenant's events keep their order in one partition; in small
    // sends, as one partition's share of a send is one record batch (1 MiB at most).
    const floodMessages = [...flood, ...again].map((m) => ({ ...m, key: "flood" }));
    for (let i = 0; i < floodMessages.length; i += 200) {
      await env.produce(env.topics.events, floodMessages.slice(i, i + 200));
    }
    await env.produce(
      env.topics.capi,
      calm.map((m) => ({ ...m, key: "calm" })),
    );
    processor = await startStreamProcessor(
      loadStreamConfig(env.env({ STREAM_MAX_CAMPAIGNS_PER_TENANT: "20" })),
      { log: pino({ level: "silent" }) },
    );
    await env.drained([env.topics.events, env.topics.capi]);

    const names = async (tenant: string) =>
      (
        await env.db.query<{ event_name: string; events: string }>(
          `SELECT event_name, sum(event_count)::text AS events FROM metric_windows
           WHERE tenant_id = $1 AND window_seconds = 60 GROUP BY event_name ORDER BY event_name`,
          [tenant],
        )
      ).rows;
    const flooded = await names("flood");
    expect(flooded).toHaveLength(501);
    expect(flooded.filter((r) => r.event_name.startsWith("name-"))).toHaveLength(500);
    // Never dropped: 100 new names twice over, counted under (other).
    expect(flooded.find((r) => r.event_name === "(other)")?.events).toBe("200");
    const total = flooded.reduce((sum, r) => sum + Number(r.events), 0);
    expect(total).toBe(1_200);

    const campaigns = await env.db.query<{ campaign: string; events: string }>(
      `SELECT campaign, sum(event_count)::text AS events FROM metric_windows
       WHERE tenant_id = 'flood' AND window_seconds = 60 GROUP BY campaign ORDER BY campaign`,
    );
    expect(campaigns.rows.filter((r) => r.campaign.startsWith("c-"))).toHaveLength(20);
    expect(campaigns.rows.find((r) => r.campaign === "(other)")?.events).toBe("10");

    expect(await names("calm")).toEqual([
      { event_name: "Lead", events: "20" },
      { event_name: "Purchase", events: "20" },
    ]);
    const admitted = await env.db.query<{ tenant_id: string; dimension: string; n: string }>(
      `SELECT tenant_id, dimension, count(*)::text AS n FROM tenant_dimension_values
       GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(admitted.rows).toEqual([
      { tenant_id: "calm", dimension: "campaign", n: "4" },
      { tenant_id: "calm", dimension: "event_name", n: "2" },
      { tenant_id: "flood", dimension: "campaign", n: "20" },
      { tenant_id: "flood", dimension: "event_name", n: "500" },
    ]);
    const exposition = await processor.metrics.registry.metrics();
    expect(exposition).toMatch(
      /driftline_stream_dimension_overflow_total\{dimension="event_name"\} 200/,
    );
    expect(exposition).toMatch(
      /driftline_stream_dimension_overflow_total\{dimension="campaign"\} 10/,
    );
  });
});
