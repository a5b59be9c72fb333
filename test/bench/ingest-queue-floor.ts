/** What Miniflare's local queue alone costs per event: a request's bundles sent again and again without the Worker. */
import { prepareEvents } from "#core/events";
import { ingestBundleText, ingestMessageText } from "../../src/queue/ingest-queue-body";
import { planBundles, planSendBatches, utf8ByteLength } from "../../src/queue/send-ingest-bundles";
import { type CpuPids, cpuMsOf } from "./ingest-load";
import { type Scenario, UA } from "./ingest-workload";

export const QUEUE_FLOOR_SCRIPT = `let batches = [];
export default {
  async fetch(request, env) {
    if (request.method === "PUT") {
      batches = await request.json();
      return new Response("loaded");
    }
    await Promise.all(
      batches.map((bodies) =>
        env.INGEST_QUEUE.sendBatch(bodies.map((body) => ({ body, contentType: "text" }))),
      ),
    );
    return new Response("queued");
  },
};`;

/**
 * The queue messages the Worker sends for one request of the scenario: its events' records packed
 * into bundles and the bundles into sendBatch calls, as `QueueEventSink` does.
 */
export async function scenarioQueueMessages(s: Scenario) {
  const batch = await prepareEvents({
    tenant: "bench-tenant",
    source: s.route === "capi" ? "capi" : "web",
    pixelId: s.route === "capi" ? "1234567890" : undefined,
    body: JSON.parse(s.template.join("r0")),
    nowMs: Date.now(),
    newEventId: () => crypto.randomUUID(),
    requestContext: { clientIpAddress: "198.51.100.7", userAgent: UA },
  });
  const texts = batch.results.flatMap((r) =>
    r.status === "accepted"
      ? [ingestMessageText(s.route === "capi" ? "capi" : "events", r.messageKey, r.messageJson)]
      : [],
  );
  const bundles = planBundles(texts.map(utf8ByteLength)).map((positions) =>
    ingestBundleText(positions.map((i) => texts[i] as string)),
  );
  const sizes = bundles.map((b) => Buffer.byteLength(b));
  const calls = planSendBatches(sizes).map((members) => members.map((b) => bundles[b] as string));
  return {
    calls,
    events: texts.length,
    bundles: bundles.length,
    meanBundleBytes: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
  };
}

/**
 * Events per second through the local queue alone (a request's bundles, sent again and again),
 * and workerd CPU per event.
 */
export async function queueFloor(
  floor: Fetcher,
  messages: Awaited<ReturnType<typeof scenarioQueueMessages>>,
  pids: CpuPids,
  seconds: number,
  concurrency: number,
) {
  const load = await floor.fetch("http://queue-floor/", {
    method: "PUT",
    body: JSON.stringify(messages.calls),
  });
  if (load.status !== 200) throw new Error(`queue floor load → ${load.status}`);
  await load.text();
  const before = cpuMsOf(pids.workerd);
  const started = performance.now();
  const until = started + seconds * 1000;
  let events = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const res = await floor.fetch("http://queue-floor/");
        if (res.status !== 200) throw new Error(`queue floor → ${res.status}`);
        await res.text();
        events += messages.events;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const after = cpuMsOf(pids.workerd);
  return {
    eventsPerSecond: events / elapsed,
    workerdUsPerEvent:
      before === undefined || after === undefined ? undefined : ((after - before) * 1000) / events,
  };
}
