/**
 * `npm run bench:delivery`: events forwarded per second by the delivery service, with batches of
 * 1000, from real Kafka topics (a prefix of the run's own) to the local Graph API test server
 * (which validates every event as Meta documents), committing each batch's answers and offsets
 * in Postgres. Also prints the browser SDK's size, gzipped. Target: ≥ 20,000 events/s.
 *
 * Env: BENCH_DELIVERY_EVENTS (default 100000); BENCH_DELIVERY_CPU_PROF_DIR, a folder: V8 CPU
 * profiles of the delivery service (while it forwards) and of the test server are written there.
 * Needs the local services (`npm run services:up`).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { resolve } from "node:path";
import pg from "pg";
import pino from "pino";
import {
  importDestinationKey,
  LOCAL_DESTINATION_ENCRYPTION_KEY,
  sealDestinationToken,
} from "#core/destinations";
import { prepareEvents } from "#core/events";
import { topicNames } from "#core/topics";
import { buildSdk } from "../../scripts/build-sdk";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers } from "../../scripts/local/kafka";
import { migrate } from "../../scripts/migrate";
import { loadStreamConfig } from "../../stream-processor/config";
import { startDeliveryService } from "../../stream-processor/delivery/start-delivery-service";
import { testKafka } from "../support/kafka-reader";
import { freePort, ROOT } from "./bench-support";

const N = Number(process.env.BENCH_DELIVERY_EVENTS ?? 100_000);
const stack = loadLocalStackConfig();
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PIXEL = "1234567890123456";
const PROFILE_DIR = process.env.BENCH_DELIVERY_CPU_PROF_DIR;

async function main(): Promise<void> {
  const sdk = await buildSdk();
  const prefix = `benchdl${randomUUID().slice(0, 6)}.`;
  const topics = topicNames(prefix);
  const schema = `bench_delivery_${randomUUID().slice(0, 6)}`;
  const tenant = "bench-delivery";
  const kafka = testKafka("driftline-bench-delivery");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [topics.events, topics.capi, topics.dlq].map((topic) => ({ topic, numPartitions: 3 })),
  });
  await migrate({ databaseUrl: DATABASE_URL, schema });
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  await db.query(`SET search_path TO ${schema}`);
  // The test server in a process of its own, as Meta is: it does not share this thread.
  const graphPort = await freePort();
  const graphUrl = `http://127.0.0.1:${graphPort}`;
  const graphProcess = spawn(
    process.execPath,
    [
      ...(PROFILE_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`]),
      "--import",
      "tsx",
      resolve(ROOT, "scripts/graph-api-test-server/main.ts"),
    ],
    { cwd: ROOT, stdio: "ignore", env: { ...process.env, GRAPH_API_TEST_PORT: String(graphPort) } },
  );
  const graphStats = async () =>
    (await (await fetch(`${graphUrl}/_driftline/stats`)).json()) as {
      events: number;
      requests: number;
    };
  for (let i = 0; ; i++) {
    try {
      await graphStats();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    const id = randomUUID();
    const key = await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY);
    await db.query(
      `INSERT INTO destinations (tenant_id, destination_id, kind, settings, secret_sealed, token_hint)
       VALUES ($1, $2, 'meta', $3, $4, 'abcd')`,
      [
        tenant,
        id,
        JSON.stringify({ pixelId: PIXEL }),
        await sealDestinationToken(key, "EAAbenchtoken1234567890abcd", {
          tenant,
          destinationId: id,
        }),
      ],
    );

    // 1000 distinct hashed CAPI events, as the Worker makes them; repeated with fresh ids.
    const nowMs = Date.now();
    const template = await prepareEvents({
      tenant,
      source: "capi",
      pixelId: PIXEL,
      nowMs,
      keyKind: "server",
      newEventId: () => randomUUID(),
      body: {
        data: Array.from({ length: 1000 }, (_, i) => ({
          event_name: "Purchase",
          event_time: Math.floor(nowMs / 1000) - 60,
          event_id: `t-${i}`,
          action_source: "website",
          event_source_url: "https://shop.example/checkout?item=42",
          user_data: {
            em: `buyer${i}@example.com`,
            ph: "+1 650 555 0100",
            client_user_agent: "Mozilla/5.0 (X11; Linux x86_64) bench",
            client_ip_address: "203.0.113.9",
            fbp: "fb.1.1700000000000.1234567890",
          },
          custom_data: { value: 19.99, currency: "USD", content_ids: ["sku-1"] },
        })),
      },
    });
    const jsons = template.results.map((r) => {
      if (r.status !== "accepted") throw new Error("template event refused");
      return r.messageJson;
    });
    const producer = kafka.producer();
    await producer.connect();
    const t0 = performance.now();
    for (let round = 0; round * 1000 < N; round++) {
      await producer.send({
        topic: topics.capi,
        messages: jsons.slice(0, Math.min(1000, N - round * 1000)).map((json, i) => {
          const eventId = `r${round}-${i}`;
          return {
            key: `${tenant}:${eventId}`,
            value: json.replaceAll(`"t-${i}"`, `"${eventId}"`),
          };
        }),
      });
    }
    await producer.disconnect();
    console.log(`produced ${N} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const config = loadStreamConfig({
      DATABASE_URL,
      DATABASE_SCHEMA: schema,
      NEON_WS_RELAY_URL: `ws://127.0.0.1:${stack.NEON_WS_RELAY_PORT}`,
      KAFKA_BROKERS: kafkaBrokers(stack).join(","),
      KAFKA_TOPIC_PREFIX: prefix,
      STREAM_FROM_BEGINNING: "true",
      DELIVERY_CONSUMER_GROUP: `bench-delivery-${randomUUID().slice(0, 6)}`,
      META_GRAPH_API_URL: graphUrl,
      DELIVERY_API_PORT: "0",
      LOG_LEVEL: "warn",
    });
    const started = performance.now();
    const profiler = PROFILE_DIR === undefined ? undefined : await startProfiler();
    const cpuBefore = process.cpuUsage();
    const graphCpuBefore = processCpuMs(graphProcess.pid);
    const service = await startDeliveryService(config, { log: pino({ level: "warn" }) });
    let firstMs: number | undefined;
    let received = 0;
    while (received < N) {
      await new Promise((r) => setTimeout(r, 50));
      received = (await graphStats()).events;
      if (received > 0) firstMs ??= performance.now();
    }
    const endMs = performance.now();
    const cpu = process.cpuUsage(cpuBefore);
    const serviceCpuMs = (cpu.user + cpu.system) / 1000;
    const graphCpuMs = processCpuMs(graphProcess.pid) - graphCpuBefore;
    if (profiler !== undefined && PROFILE_DIR !== undefined) {
      const file = resolve(PROFILE_DIR, `delivery-service-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(await profiler.stop()));
      console.log(`CPU profile of the delivery service: ${file}`);
    }
    const seconds = (endMs - started) / 1000;
    const steadySeconds = (endMs - (firstMs ?? started)) / 1000;
    // The last batches' answers and offsets commit right after Meta's answer.
    await new Promise((r) => setTimeout(r, 1_000));
    await service.stop();
    const { rows } = await db.query(
      "SELECT count(*)::int AS batches, coalesce(sum(events), 0)::int AS events, max(events) AS largest FROM destination_batches WHERE status = 'delivered'",
    );
    const stats = rows[0] as { batches: number; events: number; largest: number };
    console.log("\nDelivery service → Graph API test server (Kafka → Meta requests → Postgres):");
    console.log(`  events forwarded      ${N}`);
    console.log(
      `  requests              ${(await graphStats()).requests} (largest ${stats.largest} events; recorded ${stats.events} events in ${stats.batches} batches)`,
    );
    console.log(
      `  time                  ${seconds.toFixed(2)} s (from start, including the group join)`,
    );
    console.log(
      `  forwarded events/s    ${Math.round(N / seconds)} overall, ${Math.round(N / steadySeconds)} from the first delivery on   (target ≥ 20000)`,
    );
    // CPU time does not depend on how busy the machine's other processes are, unlike the rates.
    const perThousand = (ms: number) => ((ms / N) * 1000).toFixed(1);
    console.log(
      `  CPU per 1000 events   ${perThousand(serviceCpuMs)} ms delivery service, ${Number.isNaN(graphCpuMs) ? "n/a" : perThousand(graphCpuMs)} ms Graph API test server`,
    );
    console.log(
      `  one core's ceiling    ${Math.round((N / serviceCpuMs) * 1000)} events/s for the delivery service alone`,
    );
    console.log("\nBrowser SDK (/sdk/v1/driftline.js):");
    console.log(
      `  size                  ${sdk.bytes} B, ${sdk.gzipBytes} B gzipped   (budget 4096 B gzipped)`,
    );
  } finally {
    graphProcess.kill("SIGTERM");
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    await admin
      .deleteTopics({ topics: [topics.events, topics.capi, topics.dlq] })
      .catch(() => undefined);
    await admin.disconnect();
  }
}

/** A V8 CPU profile of this process (the delivery service runs in it) from now until stop(). */
async function startProfiler(): Promise<{ stop(): Promise<object> }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      return profile;
    },
  };
}

/** CPU time (user + system) a process used so far, ms, from /proc (NaN where there is none). */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
  } catch {
    return Number.NaN;
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
