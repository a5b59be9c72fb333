/** The local Kafka: a single-node KRaft broker (jars from Maven Central) and the Kafka REST gateway. */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import {
  allTopicNames,
  type EnsureTopicsResult,
  ensureTopicsWith,
  type TopicSpec,
} from "#core/topics";
import type { LocalStackConfig } from "./config";
import { loadLocalStackConfig } from "./config";
import { ensureKafkaJars, KAFKA_DIR } from "./kafka-jars";
import { daemonService, tsxDaemon } from "./process";
import type { LocalService } from "./service";

/** Creates the topics that are missing on the local broker (see ensureTopicsWith). */
export async function ensureTopics(
  brokers: string[],
  topics: TopicSpec[],
): Promise<EnsureTopicsResult> {
  const admin = new Kafka({
    clientId: "driftline-local",
    logLevel: logLevel.NOTHING,
    brokers,
  }).admin();
  await admin.connect();
  try {
    return await ensureTopicsWith(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

const SERVICE_NAME = "kafka";
const GATEWAY_MAIN = resolve(import.meta.dirname, "../../scripts/kafka-rest-gateway/main.ts");
const GATEWAY_NAME = "kafka-rest-gateway";
/** Written last into a jar cache folder: a folder without it is an interrupted download. */
/** A cold start downloads ~46 MB of jars; the broker itself is ready in seconds. */
const READY_TIMEOUT_MS = 90_000;

export interface KafkaStartTimings {
  /** Resolving the jars: ~0 when cached, the Maven download otherwise. */
  jarsMs: number;
  /** True when this start had to call mvn. */
  downloaded: boolean;
  /** `StorageTool format`, only on the first start of a state dir. */
  formatMs: number;
  /** From spawning the JVM to the first successful `describeCluster`. */
  bootMs: number;
  totalMs: number;
}

export interface KafkaService extends LocalService {
  /** Timings of the last `up()` that started a broker, for reports and CI logs. */
  readonly lastStartTimings: KafkaStartTimings | undefined;
}

export function kafkaBrokers(config: LocalStackConfig): string[] {
  // 127.0.0.1, not localhost: Node may resolve localhost to ::1, where the broker does not listen.
  return [`127.0.0.1:${config.KAFKA_PORT}`];
}

export function kafkaService(config: LocalStackConfig): KafkaService {
  const brokers = kafkaBrokers(config);
  const stateDir = config.DRIFTLINE_STATE_DIR;
  let lastStartTimings: KafkaStartTimings | undefined;
  // What the start in progress measured up to spawning the JVM (performance.now() values).
  let starting:
    | {
        started: number;
        jars: { ms: number; downloaded: boolean };
        formatMs: number;
        bootStarted: number;
      }
    | undefined;

  const daemon = daemonService({
    name: SERVICE_NAME,
    label: "Kafka",
    port: { number: config.KAFKA_PORT, variable: "KAFKA_PORT" },
    url: brokers.join(","),
    stateDir,
    isReady: () => kafkaAnswers(brokers),
    async spawn() {
      const started = performance.now();
      const java = requireJava();
      const jars = await ensureKafkaJars(config);
      const kafkaHome = join(stateDir, "kafka");
      const dataDir = join(kafkaHome, "data");
      const propsFile = join(kafkaHome, "server.properties");
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(propsFile, serverProperties(config, dataDir));

      const jvm = jvmArgs(config, jars.dir);
      const cds = classDataSharingArgs(jars.dir, java.build);
      let formatMs = 0;
      if (!existsSync(join(dataDir, "meta.properties"))) {
        const t = performance.now();
        formatStorage(java.command, jvm, propsFile);
        formatMs = performance.now() - t;
      }
      starting = { started, jars, formatMs, bootStarted: performance.now() };
      return { command: java.command, args: [...jvm, ...cds, "kafka.Kafka", propsFile] };
    },
    readyTimeoutMs: READY_TIMEOUT_MS,
    readyIntervalMs: 200,
    // A controlled shutdown of a single KRaft node takes a few seconds; SIGKILL only if stuck.
    stopGraceMs: 20_000,
    startLock: true,
    afterReady({ startedHere }) {
      if (!startedHere || starting === undefined) return;
      const now = performance.now();
      lastStartTimings = {
        jarsMs: Math.round(starting.jars.ms),
        downloaded: starting.jars.downloaded,
        formatMs: Math.round(starting.formatMs),
        bootMs: Math.round(now - starting.bootStarted),
        totalMs: Math.round(now - starting.started),
      };
    },
  });

  return {
    ...daemon,
    get lastStartTimings() {
      return lastStartTimings;
    },
  };
}

/** True when a broker answers an admin `describeCluster` (an open port alone is not ready). */
export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({
    clientId: "driftline-readiness",
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The Driftline topics of this stack (prefix and partitions from the config), created if missing. */
export function ensureDriftlineTopics(config: LocalStackConfig, names: string[]) {
  return ensureTopics(
    kafkaBrokers(config),
    names.map((name) => ({ name, partitions: config.KAFKA_TOPIC_PARTITIONS })),
  );
}

function requireJava(): { command: string; build: string } {
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (probe.error) {
    throw new ConfigError(
      "java was not found on PATH. The local Kafka broker needs a Java 17+ runtime " +
        "(Debian: apt-get install openjdk-17-jre-headless).",
      { cause: probe.error },
    );
  }
  const major = Number(/version "(\d+)/.exec(probe.stderr)?.[1] ?? "0");
  if (major < 17) {
    throw new ConfigError(
      `java on PATH is version ${major || "unknown"}; the local Kafka broker needs Java 17 or newer.`,
    );
  }
  const build = /build ([^\s,)]+)/.exec(probe.stderr)?.[1] ?? `${major}`;
  return { command: "java", build };
}

/**
 * AppCDS: a class-data archive of the broker's classes cuts JVM boot by ~0.5–1 s. The archive belongs to one JVM build and one jar set, so it lives beside the
 * jars and is named after the build. The first start records it, and the JVM writes it when
 * the broker exits gracefully (`down()`); later starts map it. A stale or truncated archive only
 * costs a warning in the log: the JVM then boots without it.
 */
function classDataSharingArgs(jarDir: string, javaBuild: string): string[] {
  const archive = join(jarDir, "..", `cds-${javaBuild.replace(/[^a-zA-Z0-9._-]/g, "_")}.jsa`);
  // The dump lists every class it skips as a warning; only errors belong in the broker's log.
  const quiet = "-Xlog:cds*=error";
  return existsSync(archive)
    ? [quiet, `-XX:SharedArchiveFile=${archive}`]
    : [quiet, `-XX:ArchiveClassesAtExit=${archive}`];
}

function jvmArgs(config: LocalStackConfig, jarDir: string): string[] {
  const heap = config.KAFKA_HEAP.split(/\s+/).filter(Boolean);
  return [
    ...heap,
    // The GC settings of Kafka's own kafka-run-class.sh.
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    // A local broker idles most of the time: a periodic GC every 30 s while idle gives unused
    // heap back to the machine (G1 uncommits it), so the idle stack stays small; under load
    // nothing changes.
    "-XX:G1PeriodicGCInterval=30000",
    "-XX:MinHeapFreeRatio=10",
    "-XX:MaxHeapFreeRatio=30",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${join(KAFKA_DIR, "log4j.properties")}`,
    `-Dkafka.logs.dir=${join(config.DRIFTLINE_STATE_DIR, "logs")}`,
    "-cp",
    `${jarDir}/*`,
  ];
}

function serverProperties(config: LocalStackConfig, dataDir: string): string {
  const host = "127.0.0.1";
  const lines = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.voters": `1@${host}:${config.KAFKA_CONTROLLER_PORT}`,
    listeners: `PLAINTEXT://${host}:${config.KAFKA_PORT},CONTROLLER://${host}:${config.KAFKA_CONTROLLER_PORT}`,
    "advertised.listeners": `PLAINTEXT://${host}:${config.KAFKA_PORT}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": dataDir,
    "num.partitions": String(config.KAFKA_TOPIC_PARTITIONS),
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    // One partition for the offsets topic makes the first consumer-group join fast.
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    // The log cleaner (compaction of __consumer_offsets) holds its offset map on the heap: 128 MiB
    // by default, most of an idle local broker's memory. 16 MiB compacts a local broker's topics.
    "log.cleaner.dedupe.buffer.size": String(16 * 1024 * 1024),
    // Like Confluent Cloud: topics exist only when created (ensureTopics), so a typo in a topic
    // name is an error instead of a silently created topic.
    "auto.create.topics.enable": "false",
    // Two cores are shared by the whole stack.
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
  };
  const header =
    "# Written by scripts/local/kafka.ts on every start; edit that file, not this one.\n";
  return `${header}${Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

/**
 * A Kafka cluster id: 16 random bytes as unpadded base64url (Kafka's `Uuid.toString`), not
 * starting with '-' (Kafka's `Uuid.randomUuid` rule, so the id cannot be read as a CLI flag).
 * Generated here rather than by `StorageTool random-uuid` to save one JVM start (~1 s).
 */
export function randomKafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

function formatStorage(java: string, jvm: string[], propsFile: string): void {
  const result = spawnSync(
    java,
    [
      ...jvm,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      randomKafkaClusterId(),
      "-c",
      propsFile,
      "-g",
    ],
    { encoding: "utf8" },
  );
  if (result.status !== 0) {
    throw new ConfigError(
      `Formatting the Kafka storage failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`.trim(),
    );
  }
}

export function kafkaRestGatewayUrl(config: LocalStackConfig): string {
  return `http://127.0.0.1:${config.KAFKA_REST_PORT}`;
}

/**
 * Needs the broker up (kafkaService first). `up()` creates the Driftline topics for
 * KAFKA_TOPIC_PREFIX if missing, then starts the gateway; KAFKA_REST_API_KEY/SECRET and the
 * other KAFKA_REST_* settings are taken from this process's environment.
 */
export function kafkaRestGatewayService(config: LocalStackConfig): LocalService {
  const url = kafkaRestGatewayUrl(config);
  const brokers = kafkaBrokers(config);
  return daemonService({
    name: GATEWAY_NAME,
    label: "Kafka REST gateway",
    port: { number: config.KAFKA_REST_PORT, variable: "KAFKA_REST_PORT" },
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: () => gatewayAnswers(url),
    async spawn() {
      if (!(await kafkaAnswers(brokers))) {
        throw new DependencyUnavailableError(
          `Kafka does not answer at ${brokers.join(",")}; start it first (kafkaService(config).up()).`,
        );
      }
      await ensureDriftlineTopics(config, allTopicNames(config.KAFKA_TOPIC_PREFIX));
      return tsxDaemon(GATEWAY_MAIN, {
        env: {
          KAFKA_BROKERS: brokers.join(","),
          KAFKA_REST_PORT: String(config.KAFKA_REST_PORT),
          KAFKA_REST_HOST: "127.0.0.1",
          KAFKA_TOPIC_PREFIX: config.KAFKA_TOPIC_PREFIX,
        },
      });
    },
    readyTimeoutMs: 30_000,
    readyIntervalMs: 100,
    stopGraceMs: 10_000,
    startLock: true,
  });
}

/** True when the gateway (not just anything on the port) reports itself ready. */
async function gatewayAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
    if (res.status !== 200) return false;
    const body = (await res.json()) as { status?: unknown };
    return body.status === "ready";
  } catch {
    return false;
  }
}

// `npx tsx scripts/local/kafka.ts up|down|status`: the broker alone, for manual use and timing.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2] ?? "status";
  const service = kafkaService(loadLocalStackConfig());
  if (command === "up") {
    const endpoint = await service.up();
    console.log(JSON.stringify({ ...endpoint, timings: service.lastStartTimings }));
  } else if (command === "down") {
    await service.down();
    console.log("kafka stopped (if this stack had started it)");
  } else if (command === "status") {
    console.log((await service.isReady()) ? "kafka ready" : "kafka not answering");
  } else {
    console.error(`unknown command "${command}"; use up, down or status`);
    process.exitCode = 2;
  }
}
