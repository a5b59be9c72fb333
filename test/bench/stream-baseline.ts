/** The stream benchmark's baseline: a raw kafkajs consumer that only counts, in a child process. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { ROOT } from "./bench-support";
import { rssBytes } from "./stream-measurements";

const SAMPLE_MS = 200;

export interface BaselineResult {
  count: number;
  firstMs: number;
  lastMs: number;
  /** The child's CPU time from start to exit: start-up, connecting, fetching and decoding. */
  cpuMs: number;
  wallMs: number;
  peakRssBytes: number;
}

export interface BaselineOptions {
  brokers: readonly string[];
  topics: readonly string[];
  total: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  concurrency: number;
  /** Told of the child while it runs (and of undefined once it exited), so a failure can kill it. */
  onSpawn: (child: ChildProcess | undefined) => void;
}

/** The baseline child: consume everything from the beginning, count, report timings as JSON. */
export async function baselineChild(): Promise<void> {
  const brokers = (process.env.BENCH_BROKERS ?? "").split(",");
  const topics = (process.env.BENCH_TOPICS ?? "").split(",");
  const total = Number(process.env.BENCH_TOTAL);
  const kafka = new Kafka({ clientId: "bench-baseline", brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `bench-baseline-${randomBytes(4).toString("hex")}`,
    maxBytesPerPartition: Number(process.env.BENCH_MAX_BYTES_PER_PARTITION),
    maxBytes: Number(process.env.BENCH_MAX_BYTES),
    maxWaitTimeInMs: 250,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let count = 0;
  let firstMs = 0;
  let bytes = 0;
  await new Promise<void>((done) => {
    void consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: Number(process.env.BENCH_CONCURRENCY),
      eachBatch: async ({ batch, resolveOffset }) => {
        if (firstMs === 0) firstMs = performance.now();
        count += batch.messages.length;
        for (const m of batch.messages) bytes += m.value?.length ?? 0;
        resolveOffset(batch.lastOffset());
        if (count >= total) done();
      },
    });
  });
  const lastMs = performance.now();
  const cpu = process.cpuUsage();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(`${JSON.stringify({ count, bytes, firstMs, lastMs, cpuMs })}\n`);
  await consumer.disconnect();
}

/** Runs the baseline child (`stream.ts --baseline-child`) over the topics and returns its timings. */
export function runBaseline(options: BaselineOptions): Promise<BaselineResult> {
  return new Promise<BaselineResult>((done, fail) => {
    const started = performance.now();
    let peakRssBytes = 0;
    const p = spawn(
      process.execPath,
      ["--import", "tsx", "test/bench/stream.ts", "--baseline-child"],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
        env: {
          ...process.env,
          BENCH_BROKERS: options.brokers.join(","),
          BENCH_TOPICS: options.topics.join(","),
          BENCH_TOTAL: String(options.total),
          BENCH_MAX_BYTES_PER_PARTITION: String(options.maxBytesPerPartition),
          BENCH_MAX_BYTES: String(options.maxBytes),
          BENCH_CONCURRENCY: String(options.concurrency),
        },
      },
    );
    options.onSpawn(p);
    const timer = setInterval(() => {
      peakRssBytes = Math.max(peakRssBytes, rssBytes(p.pid!));
    }, SAMPLE_MS);
    let out = "";
    p.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.once("exit", (code) => {
      clearInterval(timer);
      options.onSpawn(undefined);
      if (code !== 0) return fail(new Error(`baseline exited with ${code}`));
      const r = JSON.parse(out.trim().split("\n").pop() ?? "{}");
      done({ ...r, wallMs: performance.now() - started, peakRssBytes });
    });
  });
}
