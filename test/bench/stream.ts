/** End-to-end benchmark of the stream processor (Kafka → Postgres) against a raw kafkajs consume-only baseline. */
// Usage: npm run bench:stream [-- --events 1000000] [--quick] [--partitions 3] [--keep]
//   --quick       100 000 events instead of 1 000 000
//   --events N    any number of events (records over events + capi + predictions)
//   --partitions  partitions per topic (default 3)
//   --keep        keep the schema and topics afterwards (default: dropped)
//   --live        start the processor first and produce while it runs (sustained throughput and
//                 a meaningful peak lag); default: process a backlog produced beforehand
//   --no-monitoring  leave model monitoring (drift, labels) out of the batch transactions and
//                 measure the windowed business metrics path alone (default: on, as the
//                 processor's own MONITORING_ENABLED default)
//   --no-anomaly  leave anomaly detection out of the batch transactions (default: on, as the
//                 processor's own STREAM_ANOMALY_ENABLED default); `npm run bench:stream:anomaly`
//                 runs both and prints the ratio
//   --event-rate R  records per second of event time (default 550: 1M records span 30 minutes,
//                 a backlog of moderate traffic; every batch then touches thousands of windows).
//                 Live traffic at the target rate is --event-rate 50000 (1M records span 20 s).
//   --max-bytes-per-partition, --max-bytes, --concurrency
//                 the processor's fetch settings (default: its own defaults, see config.ts);
//                 the baseline uses the same
//   --instances N  run N stream processors in one consumer group (default 1), as a deployment
//                 with several instances does; CPU, RSS and latencies are summed over them
//
// Phases: (1) produce N realistic messages (website and CAPI events as the Worker emits them,
// predictions, 2 % producer-retry duplicates, some late events; see buildWorkload) into fresh topics; (2) start
// the stream processor as a child process on that backlog and time it until every record is
// reflected in Postgres (stored offsets at the partition ends), sampling lag and RSS; verify the
// totals; (3) time a raw kafkajs consumer (eachBatch, counting only) in a child process over the
// same topics. Prints both rates and their ratio.
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { topicNames } from "#core/topics";
import { parseCommandLine } from "../../scripts/command-line";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers, kafkaService } from "../../scripts/local/kafka";
import { startNeonWsRelay } from "../../scripts/local/neon-ws-relay";
import { migrate } from "../../scripts/migrate";
import { STREAM_FETCH_DEFAULTS } from "../../stream-processor/config";
import { ensureTopics } from "../../stream-processor/kafka/ensure-topics";
import { consumerBacklog } from "../support/consumer-backlog";
import { freePort, machineCpuMs, ROOT } from "./bench-support";
import { baselineChild, runBaseline } from "./stream-baseline";
import { cpuMs, histogramMeans, rssBytes, walStats } from "./stream-measurements";
import { buildWorkload } from "./stream-workload";

/** Printed by --help: the header above. */
const USAGE = `End-to-end benchmark of the stream processor (Kafka → Postgres) against a raw kafkajs consume-only baseline.
Usage: npm run bench:stream [-- --events 1000000] [--quick] [--partitions 3] [--keep]
  --quick       100 000 events instead of 1 000 000
  --events N    any number of events (records over events + capi + predictions)
  --partitions  partitions per topic (default 3)
  --keep        keep the schema and topics afterwards (default: dropped)
  --live        start the processor first and produce while it runs (sustained throughput and
                a meaningful peak lag); default: process a backlog produced beforehand
  --no-monitoring  leave model monitoring (drift, labels) out of the batch transactions and
                measure the windowed business metrics path alone (default: on, as the
                processor's own MONITORING_ENABLED default)
  --event-rate R  records per second of event time (default 550: 1M records span 30 minutes,
                a backlog of moderate traffic; every batch then touches thousands of windows).
                Live traffic at the target rate is --event-rate 50000 (1M records span 20 s).
  --max-bytes-per-partition, --max-bytes, --concurrency
                the processor's fetch settings (default: its own defaults, see config.ts);
                the baseline uses the same
  --instances N  run N stream processors in one consumer group (default 1), as a deployment
                with several instances does; CPU, RSS and latencies are summed over them

Phases: (1) produce N realistic messages (website and CAPI events as the Worker emits them,
predictions, 2 % producer-retry duplicates, some late events; see buildWorkload) into fresh topics; (2) start
the stream processor as a child process on that backlog and time it until every record is
reflected in Postgres (stored offsets at the partition ends), sampling lag and RSS; verify the
totals; (3) time a raw kafkajs consumer (eachBatch, counting only) in a child process over the
same topics. Prints both rates and their ratio.`;

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** A backlog that makes no progress this long fails the run instead of waiting forever. */
const STALL_MS = 120_000;
const SAMPLE_MS = 200;

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    command: "npm run bench:stream",
    usage: USAGE,
    allowNegative: true,
    options: {
      events: { type: "string" },
      quick: { type: "boolean" },
      partitions: { type: "string", default: "3" },
      keep: { type: "boolean" },
      monitoring: { type: "boolean", default: true },
      anomaly: { type: "boolean", default: true },
      live: { type: "boolean" },
      "event-rate": { type: "string", default: "550" },
      "max-bytes-per-partition": {
        type: "string",
        default: String(STREAM_FETCH_DEFAULTS.maxBytesPerPartition),
      },
      "max-bytes": { type: "string", default: String(STREAM_FETCH_DEFAULTS.maxBytes) },
      concurrency: { type: "string", default: String(STREAM_FETCH_DEFAULTS.partitionsConcurrency) },
      instances: { type: "string", default: "1" },
      "baseline-child": { type: "boolean" },
    },
  });
  if (values["baseline-child"]) return baselineChild();
  const n = Number(values.events ?? (values.quick ? 100_000 : 1_000_000));
  const partitions = Number(values.partitions);
  if (!Number.isInteger(n) || n < 1000) throw new Error("--events must be a whole number ≥ 1000");

  const stack = loadLocalStackConfig();
  const broker = kafkaService(stack);
  const brokerStartedHere = (await broker.up()).startedHere;
  const brokers = kafkaBrokers(stack);
  const id = randomBytes(4).toString("hex");
  const schema = `bench_${id}`;
  const names = topicNames(`bench.${id}.`);
  const consumed = [names.events, names.capi, names.predictions];
  const groupId = `bench-${id}`;
  const eventRate = Number(values["event-rate"]);
  const maxBytesPerPartition = Number(values["max-bytes-per-partition"]);
  const maxBytes = Number(values["max-bytes"]);
  const concurrency = Number(values.concurrency);
  const instances = Number(values.instances);
  if (!Number.isInteger(instances) || instances < 1 || instances > 8)
    throw new Error("--instances must be a whole number from 1 to 8");
  for (const [name, v] of Object.entries({
    eventRate,
    maxBytesPerPartition,
    maxBytes,
    concurrency,
  })) {
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a number > 0`);
  }

  console.log(
    `Driftline stream benchmark: ${fmt(n)} records, ${partitions} partitions per topic, ${fmt(eventRate)} records per second of event time, fetches of ${fmt(maxBytesPerPartition / 1024)} KiB per partition (${fmt(maxBytes / 1024)} KiB per request), ${concurrency} partitions at once, model monitoring ${values.monitoring ? "on" : "off"}, anomaly detection ${values.anomaly ? "on" : "off"}, ${instances} stream processor${instances > 1 ? "s" : ""}`,
  );
  await migrate({ databaseUrl: DATABASE_URL, schema });
  await ensureTopics(
    brokers,
    Object.values(names).map((name) => ({ name, partitions })),
  );
  const relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
  const db = new pg.Pool({
    connectionString: DATABASE_URL,
    options: `-c search_path=${schema}`,
    max: 2,
  });
  const kafka = new Kafka({ clientId: "bench", brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let child: ChildProcess | undefined;
  let processors: ChildProcess[] = [];

  try {
    // 1. The workload.
    const t = performance.now();
    const work = buildWorkload(n, eventRate);
    console.log(
      `generated in ${((performance.now() - t) / 1000).toFixed(1)} s; mean record ${fmt(work.bytes / n)} bytes, ${fmt(work.bytes / 1e6)} MB`,
    );
    const produce = async () => {
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const started = performance.now();
      const sends: Promise<unknown>[] = [];
      for (const [topic, list] of [
        [names.events, work.events],
        [names.capi, work.capi],
        [names.predictions, work.predictions],
      ] as const) {
        for (let i = 0; i < list.length; i += 2_000) {
          sends.push(producer.send({ topic, acks: -1, messages: list.slice(i, i + 2_000) }));
          if (sends.length >= 8) await Promise.all(sends.splice(0));
        }
      }
      await Promise.all(sends);
      await producer.disconnect();
      const seconds = (performance.now() - started) / 1000;
      console.log(`produced in ${seconds.toFixed(1)} s (${fmt(n / seconds)} records/s)`);
    };

    const remaining = () => consumerBacklog(admin, db, groupId, consumed);
    const total = n;
    // Backlog mode: everything is in Kafka before the processor starts.
    if (!values.live) await produce();
    // Every run starts right after a checkpoint, so each pays the same full-page images in its
    // WAL and none is slowed by a checkpoint that an earlier run's WAL set off. Needs a superuser
    // (or pg_checkpoint); skipped without.
    await db.query("CHECKPOINT").catch(() => {});
    const walStart = await walStats(db);

    // 2. The stream processor.
    const apiPorts: number[] = [];
    while (apiPorts.length < instances) {
      const port = await freePort();
      if (!apiPorts.includes(port)) apiPorts.push(port);
    }
    const appName = `driftline-bench-${id}`;
    const spawnedMs = performance.now();
    // BENCH_PROCESSOR_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the processor.
    const nodeArgs = (process.env.BENCH_PROCESSOR_NODE_ARGS ?? "")
      .split(" ")
      .filter((a) => a !== "");
    const spawnProcessor = (apiPort: number) =>
      spawn(process.execPath, [...nodeArgs, "--import", "tsx", "stream-processor/main.ts"], {
        cwd: ROOT,
        // The processor's own warnings and errors (LOG_LEVEL=warn) show up in the output.
        stdio: ["ignore", "inherit", "inherit"],
        env: {
          ...process.env,
          DATABASE_URL,
          DATABASE_SCHEMA: schema,
          NEON_WS_RELAY_URL: relay.url,
          KAFKA_BROKERS: brokers.join(","),
          KAFKA_TOPIC_PREFIX: `bench.${id}.`,
          STREAM_CONSUMER_GROUP: groupId,
          STREAM_ENSURE_TOPICS: "false",
          STREAM_API_PORT: String(apiPort),
          STREAM_MAX_BYTES_PER_PARTITION: String(maxBytesPerPartition),
          STREAM_MAX_BYTES: String(maxBytes),
          STREAM_PARTITIONS_CONCURRENCY: String(concurrency),
          STREAM_DEDUP_PURGE_INTERVAL_MS: "0",
          LOG_LEVEL: "warn",
          PGAPPNAME: appName,
          MONITORING_ENABLED: values.monitoring ? "true" : "false",
          STREAM_ANOMALY_ENABLED: values.anomaly ? "true" : "false",
        },
      });
    processors = apiPorts.map(spawnProcessor);
    const exited = () => {
      const gone = processors.find((p) => p.exitCode !== null);
      if (gone !== undefined) throw new Error(`a stream processor exited with ${gone.exitCode}`);
    };
    // CPU accounting: the processor, the Postgres backends serving it (found by application
    // name), and the broker (shared with anything else using it).
    const backendCpu = new Map<number, number>();
    const kafkaPid = Number(
      (() => {
        try {
          return readFileSync(resolve(stack.DRIFTLINE_STATE_DIR, "run/kafka.pid"), "utf8").trim();
        } catch {
          return "0";
        }
      })(),
    );
    let producing: Promise<void> | undefined;
    let produced = !values.live;
    let liveStartMs = 0;
    if (values.live) {
      // Live mode: the processor is up and idle, then records arrive as fast as the producer goes.
      const ready = async (port: number) =>
        (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200;
      for (const port of apiPorts) {
        while (!(await ready(port))) {
          exited();
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      liveStartMs = performance.now();
      producing = produce().then(() => {
        produced = true;
      });
    }
    // CPU counters at the start of the measured window: when the first batch is committed (a
    // backlog; start-up excluded) or when production starts (live). This process runs the local
    // Neon WebSocket relay (Neon's proxy in production) and the sampling; the machine's counters
    // show what everything together used.
    const cpuSnapshot = () => ({
      processors: processors.reduce((sum, p) => sum + cpuMs(p.pid!), 0),
      kafka: kafkaPid > 0 ? cpuMs(kafkaPid) : 0,
      self: process.cpuUsage(),
      machine: machineCpuMs(),
      backends: new Map(backendCpu),
    });
    let windowStart = cpuSnapshot();
    /** Records committed inside the measured window. */
    let windowRecords = total;
    let peakLag = 0;
    let peakRss = 0;
    let firstProgressMs = 0;
    let left = total;
    let lastChangeMs = performance.now();
    while (!produced || left > 0) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      exited();
      const before = left;
      left = await remaining();
      if (left !== before || !produced) lastChangeMs = performance.now();
      else if (performance.now() - lastChangeMs > STALL_MS) {
        throw new Error(
          `no record committed for ${STALL_MS / 1000} s with ${fmt(left)} left: the stream processor is stuck (its log is above)`,
        );
      }
      peakLag = Math.max(peakLag, left);
      peakRss = Math.max(
        peakRss,
        processors.reduce((sum, p) => sum + rssBytes(p.pid!), 0),
      );
      const backends = await db.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        [appName],
      );
      for (const { pid } of backends.rows)
        backendCpu.set(pid, Math.max(backendCpu.get(pid) ?? 0, cpuMs(pid)));
      if (firstProgressMs === 0 && (values.live ? liveStartMs > 0 : left < total)) {
        firstProgressMs = values.live ? liveStartMs : performance.now();
        if (!values.live) {
          windowStart = cpuSnapshot();
          windowRecords = left;
        }
      }
    }
    await producing;
    const windowEnd = cpuSnapshot();
    const walEnd = await walStats(db);
    const processorCpuMs = windowEnd.processors - windowStart.processors;
    const kafkaCpuMs = windowEnd.kafka - windowStart.kafka;
    let postgresCpuMs = 0;
    for (const [pid, ms] of windowEnd.backends)
      postgresCpuMs += ms - (windowStart.backends.get(pid) ?? 0);
    const selfCpu = process.cpuUsage(windowStart.self);
    const relayCpuMs = (selfCpu.user + selfCpu.system) / 1000;
    const machineBusy =
      (windowEnd.machine.busy - windowStart.machine.busy) /
      Math.max(1, windowEnd.machine.total - windowStart.machine.total);
    const doneMs = performance.now();
    const wallS = (doneMs - spawnedMs) / 1000;
    const steadyS = (doneMs - firstProgressMs) / 1000;
    let exposition = "";
    for (const port of apiPorts)
      exposition += await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const dbLatency = histogramMeans(
      exposition,
      "driftline_stream_db_duration_seconds",
      "operation",
    );
    const batches = histogramMeans(exposition, "driftline_stream_batch_duration_seconds", "topic");
    // SIGTERM: each processor finishes, rolls the marked hours up (deferred work the run
    // itself did not pay for) and exits.
    const stoppingMs = performance.now();
    await Promise.all(
      processors.map(async (p) => {
        const exit = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        await exit;
      }),
    );
    const shutdownS = (performance.now() - stoppingMs) / 1000;
    processors = [];

    // The processors rolled the hours up when they stopped: hour rows hold every record too.
    const check = await db.query<{ counted: string; hours: string; seen: string; marked: string }>(
      `SELECT (SELECT sum(event_count + prediction_count) FROM metric_windows WHERE window_seconds = 60)::text AS counted,
              (SELECT sum(event_count + prediction_count) FROM metric_windows WHERE window_seconds = 3600)::text AS hours,
              (SELECT count(*) FROM seen_events)::text AS seen,
              (SELECT count(*) FROM metric_hours_pending)::text AS marked`,
    );
    const counted = Number(check.rows[0]!.counted);
    const correct =
      counted === work.unique &&
      Number(check.rows[0]!.hours) === work.unique &&
      Number(check.rows[0]!.seen) === work.unique &&
      Number(check.rows[0]!.marked) === 0;

    // 3. Raw kafkajs baseline over the same topics.
    const baseline = await runBaseline({
      brokers,
      topics: consumed,
      total,
      maxBytesPerPartition,
      maxBytes,
      concurrency,
      onSpawn: (p) => {
        child = p;
      },
    });
    const baselineRss = baseline.peakRssBytes;
    const baselineSteadyS = (baseline.lastMs - baseline.firstMs) / 1000;

    // Records committed after the first progress sample, over the time since it (a backlog's
    // first commit, which may hold several batches, was processed before that sample).
    const e2eRate = windowRecords / steadyS;
    const baseRate = baseline.count / baselineSteadyS;
    console.log("");
    console.log(
      `records in Kafka                ${fmt(total)} (${fmt(work.unique)} distinct, rest duplicates)`,
    );
    console.log(
      values.live
        ? `stream processor, end to end    ${fmt(e2eRate)} records/s  (${steadyS.toFixed(1)} s from the first record produced to the last one committed)`
        : `stream processor, end to end    ${fmt(e2eRate)} records/s  (${steadyS.toFixed(1)} s from first commit; ${wallS.toFixed(1)} s incl. start-up = ${fmt(total / wallS)}/s)`,
    );
    console.log(`  peak lag                      ${fmt(peakLag)} records`);
    console.log(
      `  shutdown                      ${shutdownS.toFixed(1)} s (incl. the last hourly rollup)`,
    );
    console.log(
      `  peak RSS                      ${fmt(peakRss / 1024 / 1024)} MiB${instances > 1 ? ` (${instances} instances together)` : ""}`,
    );
    const batchCount = [...batches.values()].reduce((a, b) => a + b.count, 0);
    const batchMean =
      [...batches.values()].reduce((a, b) => a + b.meanMs * b.count, 0) / Math.max(1, batchCount);
    console.log(
      `  batches                       ${fmt(batchCount)}, mean ${batchMean.toFixed(1)} ms (${fmt(total / Math.max(1, batchCount))} records each)`,
    );
    console.log(
      `  db latency (mean)             ${[...dbLatency].map(([op, v]) => `${op} ${v.meanMs.toFixed(1)} ms`).join(", ")}`,
    );
    console.log(
      `  totals in Postgres            ${correct ? "correct" : "WRONG"} (${fmt(counted)} counted in minutes, ${fmt(Number(check.rows[0]!.hours))} in hours, ${fmt(work.unique)} expected)`,
    );
    console.log(
      `raw kafkajs consume-only        ${fmt(baseRate)} records/s  (${baselineSteadyS.toFixed(1)} s from first batch; ${(baseline.wallMs / 1000).toFixed(1)} s incl. start-up), peak RSS ${fmt(baselineRss / 1024 / 1024)} MiB`,
    );
    console.log(
      `  CPU per record                ${((baseline.cpuMs * 1000) / Math.max(1, baseline.count)).toFixed(1)} µs (incl. start-up)`,
    );
    console.log(`ratio end-to-end / baseline     ${(e2eRate / baseRate).toFixed(2)}`);
    const perRecord = (ms: number) => (ms * 1000) / Math.max(1, windowRecords);
    const [cpuNode, cpuPg, cpuKafka, cpuRelay] = [
      processorCpuMs,
      postgresCpuMs,
      kafkaCpuMs,
      relayCpuMs,
    ].map(perRecord) as [number, number, number, number];
    console.log(
      `CPU per record, first to last commit: processor ${cpuNode.toFixed(1)} µs, Postgres ${cpuPg.toFixed(1)} µs, Kafka broker ${cpuKafka.toFixed(1)} µs, local WebSocket relay and sampling ${cpuRelay.toFixed(1)} µs`,
    );
    console.log(
      `machine CPU busy, first to last commit: ${(machineBusy * 100).toFixed(0)} % of both cores`,
    );
    if (walStart !== undefined && walEnd !== undefined) {
      console.log(
        `Postgres WAL per record         ${fmt((walEnd.bytes - walStart.bytes) / total)} bytes, ${((walEnd.records - walStart.records) / total).toFixed(1)} WAL records, ${fmt(walEnd.fullPages - walStart.fullPages)} full-page images in all`,
      );
    }
    // One core at most per single-threaded processor, two for everything together.
    const ceiling = Math.min(
      (Math.min(2, instances) * 1e6) / cpuNode,
      2e6 / (cpuNode + cpuPg + cpuKafka + cpuRelay),
    );
    console.log(`CPU-bound ceiling on an idle 2-core machine: ${fmt(ceiling)} records/s`);
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    console.log(
      `machine load average during the run: ${load} (other processes compete for the 2 cores)`,
    );
    if (!correct) process.exitCode = 1;
  } finally {
    child?.kill("SIGKILL");
    for (const p of processors) p.kill("SIGKILL");
    await relay.close().catch(() => {});
    if (!values.keep) {
      await admin.deleteTopics({ topics: Object.values(names) }).catch(() => {});
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    }
    await admin.disconnect().catch(() => {});
    await db.end().catch(() => {});
    // A broker this run started is stopped again; one that was running stays up.
    if (brokerStartedHere) await broker.down();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
