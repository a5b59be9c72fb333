/**
 * Benchmark: one invocation of the ingest queue consumer (`consumeIngestBatch` with the Kafka REST
 * sink, as the Worker's `queue()` runs it) on a batch of full bundles, against the local Kafka REST
 * gateway and broker.
 *
 * Usage: npm run bench:consume [-- --bundles 100 --routes capi,web --rounds 3
 *        --concurrency 1,6 --rtt-ms 0,20 --modes batch,stream]
 * Builds `--bundles` queue messages of ~120 KB from events prepared as the Worker prepares them,
 * then consumes that batch `--rounds` times per setting, the `--concurrency` values (the client's
 * `maxConcurrentRequests`; 1 is how the consumer produced before requests went out concurrently)
 * alternating so machine load hits them alike. `--rtt-ms` adds that many ms before each HTTP
 * request reaches the gateway, standing in for the round trip to a remote REST Proxy (Confluent
 * Cloud is tens of ms from a Cloudflare location; loopback is well under one). `--modes` are the
 * client's ways of sending several records per request (KAFKA_REST_PRODUCE_MODE): `batch`
 * (`records:batch`, 10 per request) and `stream` (concatenated JSON to `records`, 100 per
 * request; what Confluent Cloud documents). Prints the median
 * time per invocation, records/s, and the gateway process's CPU per record.
 *
 * Runs in Node, not workerd: what it measures is waiting on HTTP, which the runtime does not
 * change. Needs the local broker (started if it is not running); starts its own gateway on a free
 * port with topics under a fresh prefix, and deletes those topics after.
 */
import { randomUUID } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { prepareEvents } from "#core/events";
import { parseCommandLine } from "../../scripts/command-line";
import { runningPid } from "../../scripts/local/process";
import { KafkaRestRecordSink } from "../../src/kafka-rest/kafka-rest-record-sink";
import { consumeIngestBatch } from "../../src/queue/consume-ingest-batch";
import { ingestBundleText, ingestMessageText } from "../../src/queue/ingest-queue-body";
import type { QueueMessageLike } from "../../src/queue/queue-ports";
import { planBundles, utf8ByteLength } from "../../src/queue/send-ingest-bundles";
import { median, processCpuMs, startPrivateKafkaRestGateway, table } from "./bench-support";
import { capiEvent, UA, webEvent } from "./ingest-workload";

/** Printed by --help: the header above. */
const USAGE = `Benchmark: one invocation of the ingest queue consumer (\`consumeIngestBatch\` with the Kafka REST
sink, as the Worker's \`queue()\` runs it) on a batch of full bundles, against the local Kafka REST
gateway and broker.

Usage: npm run bench:consume [-- --bundles 100 --routes capi,web --rounds 3
       --concurrency 1,6 --rtt-ms 0,20 --modes batch,stream]
Builds \`--bundles\` queue messages of ~120 KB from events prepared as the Worker prepares them,
then consumes that batch \`--rounds\` times per setting, the \`--concurrency\` values (the client's
\`maxConcurrentRequests\`; 1 is how the consumer produced before requests went out concurrently)
alternating so machine load hits them alike. \`--rtt-ms\` adds that many ms before each HTTP
request reaches the gateway, standing in for the round trip to a remote REST Proxy (Confluent
Cloud is tens of ms from a Cloudflare location; loopback is well under one). \`--modes\` are the
client's ways of sending several records per request (KAFKA_REST_PRODUCE_MODE): \`batch\`
(\`records:batch\`, 10 per request) and \`stream\` (concatenated JSON to \`records\`, 100 per
request; what Confluent Cloud documents). Prints the median
time per invocation, records/s, and the gateway process's CPU per record.

Runs in Node, not workerd: what it measures is waiting on HTTP, which the runtime does not
change. Needs the local broker (started if it is not running); starts its own gateway on a free
port with topics under a fresh prefix, and deletes those topics after.`;

const { values: args } = parseCommandLine({
  command: "npm run bench:consume",
  usage: USAGE,
  options: {
    bundles: { type: "string", default: "100" },
    routes: { type: "string", default: "capi,web" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "1,6" },
    "rtt-ms": { type: "string", default: "0,20" },
    modes: { type: "string", default: "batch,stream" },
  },
});
const MODES = args.modes.split(",") as ("batch" | "stream")[];
if (MODES.some((m) => m !== "batch" && m !== "stream"))
  throw new Error("--modes takes batch, stream");
const BUNDLES = Number(args.bundles);
const ROUNDS = Number(args.rounds);
const ROUTES = args.routes.split(",") as ("capi" | "web")[];
const CONCURRENCY = args.concurrency.split(",").map(Number);
const RTT_MS = args["rtt-ms"].split(",").map(Number);
if (!Number.isInteger(BUNDLES) || BUNDLES < 1 || BUNDLES > 100) {
  throw new Error("--bundles must be 1 … 100 (a queue batch holds at most 100 messages)");
}
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("--rounds must be ≥ 1");
if (ROUTES.some((r) => r !== "capi" && r !== "web")) throw new Error("--routes takes capi, web");
if (CONCURRENCY.some((c) => !Number.isInteger(c) || c < 1)) {
  throw new Error("--concurrency lists positive whole numbers");
}
if (RTT_MS.some((ms) => !Number.isFinite(ms) || ms < 0)) throw new Error("--rtt-ms lists ms ≥ 0");

/** `count` full bundles of one route's events, as the Worker queues them (JSON text). */
async function fullBundles(route: "capi" | "web", count: number) {
  const texts: string[] = [];
  const topic = route === "capi" ? "capi" : "events";
  // One bundle more than asked for, so every bundle kept is full (the last one planned may not be).
  while (planBundles(texts.map(utf8ByteLength)).length <= count) {
    const run = randomUUID().slice(0, 8);
    const events = Array.from({ length: 1000 }, (_, i) =>
      route === "capi" ? capiEvent(i, `${run}-${i}`) : webEvent(i, `${run}-${i}`),
    );
    const batch = await prepareEvents({
      tenant: "bench-consume",
      source: route === "capi" ? "capi" : "web",
      pixelId: route === "capi" ? "1234567890" : undefined,
      body: route === "capi" ? { data: events } : { events },
      nowMs: Date.now(),
      newEventId: () => randomUUID(),
      requestContext: { clientIpAddress: "198.51.100.7", userAgent: UA },
    });
    for (const r of batch.results) {
      if (r.status !== "accepted") throw new Error(`bench event refused: ${JSON.stringify(r)}`);
      texts.push(ingestMessageText(topic, r.messageKey, r.messageJson));
    }
  }
  const plans = planBundles(texts.map(utf8ByteLength)).slice(0, count);
  return {
    bodies: plans.map((positions) => ingestBundleText(positions.map((i) => texts[i] as string))),
    records: plans.reduce((sum, positions) => sum + positions.length, 0),
  };
}

function queueMessages(bodies: readonly string[]) {
  let acked = 0;
  let retried = 0;
  const messages: QueueMessageLike[] = bodies.map((body, i) => ({
    id: `m${i}`,
    body,
    attempts: 1,
    ack: () => {
      acked += 1;
    },
    retry: () => {
      retried += 1;
    },
  }));
  return { messages, settled: () => ({ acked, retried }) };
}

async function main(): Promise<void> {
  const gateway = await startPrivateKafkaRestGateway("bench-consume");
  const { url, prefix } = gateway;
  try {
    const gatewayPid = runningPid(gateway.stateDir, "kafka-rest-gateway");
    const loadBefore = loadavg()[0] ?? Number.NaN;
    const rows: (string | number)[][] = [];
    for (const route of ROUTES) {
      const { bodies, records } = await fullBundles(route, BUNDLES);
      const meanKb = bodies.reduce((s, b) => s + utf8ByteLength(b), 0) / bodies.length / 1000;
      for (const rttMs of RTT_MS) {
        const settings = MODES.flatMap((mode) =>
          CONCURRENCY.map((concurrency) => ({ mode, concurrency })),
        );
        const runs = new Map(
          settings.map((s) => [s, { ms: [] as number[], requests: 0, gatewayMs: 0 }]),
        );
        // One untimed invocation first: connections, JIT, the gateway's topic metadata.
        for (let round = -1; round < ROUNDS; round++) {
          for (const setting of settings) {
            const { mode, concurrency } = setting;
            let requests = 0;
            const sink = new KafkaRestRecordSink({
              baseUrl: url,
              clusterId: "driftline",
              maxConcurrentRequests: concurrency,
              produceMode: mode,
              fetch: async (input, init) => {
                requests += 1;
                if (rttMs > 0) await new Promise((r) => setTimeout(r, rttMs));
                return fetch(input, init);
              },
            });
            const { messages, settled } = queueMessages(bodies);
            const cpuBefore = gatewayPid === undefined ? undefined : processCpuMs(gatewayPid);
            const started = performance.now();
            const result = await consumeIngestBatch(messages, { sink, topicPrefix: prefix });
            const ms = performance.now() - started;
            const cpuAfter = gatewayPid === undefined ? undefined : processCpuMs(gatewayPid);
            const { acked, retried } = settled();
            if (result.produced !== records || acked !== bodies.length || retried !== 0) {
              throw new Error(
                `${route}, ${mode}, ${concurrency} concurrent: produced ${result.produced} of ${records}, acked ${acked}, retried ${retried}`,
              );
            }
            if (round < 0) continue;
            const run = runs.get(setting)!;
            run.ms.push(ms);
            run.requests = requests;
            if (cpuBefore !== undefined && cpuAfter !== undefined)
              run.gatewayMs += cpuAfter - cpuBefore;
          }
        }
        for (const [{ mode, concurrency }, run] of runs) {
          const ms = median(run.ms);
          rows.push([
            `${route}: ${BUNDLES} bundles of ~${meanKb.toFixed(0)} KB`,
            records,
            rttMs,
            mode,
            concurrency,
            run.requests,
            ms.toFixed(0),
            Math.round((records * 1000) / ms),
            gatewayPid === undefined
              ? "n/a"
              : ((run.gatewayMs * 1000) / (records * ROUNDS)).toFixed(1),
          ]);
        }
      }
    }
    console.log(
      `\nOne ingest queue consumer invocation (consumeIngestBatch + KafkaRestRecordSink, Node) against the local Kafka REST gateway; median of ${ROUNDS} per row`,
    );
    console.log(
      table(
        [
          "batch",
          "records",
          "added RTT ms",
          "mode",
          "concurrent requests",
          "HTTP requests",
          "ms/invocation",
          "records/s",
          "gateway CPU µs/record",
        ],
        rows,
      ),
    );
    console.log(
      `Machine load (1-minute average, ${availableParallelism()} cores): ${loadBefore.toFixed(2)} before, ${loadavg()[0]?.toFixed(2)} after.`,
    );
  } finally {
    await gateway.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
