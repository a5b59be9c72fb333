/**
 * Produce throughput through the gateway: `npx tsx test/bench/kafka-rest-gateway.ts`.
 * Runs the gateway as its own process (as in the stack) against the local broker, drives it with
 * KafkaRestClient over loopback for a bounded time per scenario, and prints records/s and latency.
 * Options (env): BENCH_SECONDS (default 5 per scenario), BENCH_VALUE_BYTES (default 300).
 */

import { topicNames } from "#core/topics";
import { KafkaRestClient } from "../../src/kafka-rest/kafka-rest-client";
import { percentile, startPrivateKafkaRestGateway } from "./bench-support";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const valueBytes = Number(process.env.BENCH_VALUE_BYTES ?? 300);

const scenarios = [
  { name: "1 record/request, 16 concurrent", batch: 1, concurrency: 16, mode: "single" as const },
  { name: "10 records/batch, 8 concurrent", batch: 10, concurrency: 8, mode: "batch" as const },
  { name: "100 records/batch, 4 concurrent", batch: 100, concurrency: 4, mode: "batch" as const },
];

const gateway = await startPrivateKafkaRestGateway("bench");
const { url, prefix } = gateway;

try {
  const topic = topicNames(prefix).events;
  const padding = "x".repeat(Math.max(0, valueBytes - 120));
  console.log(`gateway ${url}, topic ${topic}, ~${valueBytes} B values, ${seconds} s per scenario`);

  for (const scenario of scenarios) {
    const client = new KafkaRestClient({
      baseUrl: url,
      clusterId: "driftline",
      maxBatchEntries: scenario.batch,
      produceMode: scenario.mode,
    });
    const latencies: number[] = [];
    let records = 0;
    let failures = 0;
    let seq = 0;
    const deadline = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const batch = Array.from({ length: scenario.batch }, () => {
          seq += 1;
          return {
            key: `tenant-${seq % 50}:evt-${seq}`,
            value: { schemaVersion: 1, event_name: "Purchase", value: seq % 100, padding },
            headers: { source: "bench" },
          };
        });
        const t = performance.now();
        const outcomes = await client.produceBatch(topic, batch);
        latencies.push(performance.now() - t);
        for (const o of outcomes) {
          if (o.ok) records += 1;
          else failures += 1;
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: scenario.concurrency }, worker));
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    console.log(
      `${scenario.name.padEnd(34)} ${Math.round(records / elapsed)
        .toString()
        .padStart(7)} records/s  ${Math.round(latencies.length / elapsed)
        .toString()
        .padStart(
          5,
        )} req/s  p50 ${percentile(latencies, 0.5).toFixed(1)} ms  p99 ${percentile(latencies, 0.99).toFixed(1)} ms  failures ${failures}`,
    );
  }
} finally {
  await gateway.stop();
}
