/** Builds and starts the delivery service: a consumer group over `events` and `capi` forwarding to destinations. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { importDestinationKey } from "#core/destinations";
import { topicNames } from "#core/topics";
import { registerOpsRoutes } from "../api/ops-routes";
import type { StreamConfig } from "../config";
import { createNeonPool, type PoolClient } from "../db/create-pool";
import { NeonBatchTransactions } from "../db/neon-batch-transactions";
import { createKafka } from "../kafka/create-kafka";
import { KafkajsDeadLetterSink } from "../kafka/kafkajs-dead-letter-sink";
import { KafkajsEventSource } from "../kafka/kafkajs-event-source";
import { DeliveryMetrics } from "./delivery-metrics";
import { DestinationPauses } from "./destination-pauses";
import { GraphApiMetaSender } from "./graph-api-meta-sender";
import { createDeliveryBatchHandler } from "./handle-delivery-batch";
import { NeonDestinationDirectory } from "./neon-destination-directory";
import { ParkedResumer } from "./resume-parked";

export interface DeliveryService {
  stop(): Promise<void>;
  isHealthy(): boolean;
  /** Events delivered and dead-lettered since start. */
  counts(): { delivered: number; deadLettered: number };
  /** `http://host:port` of /health, /ready and /metrics (the real port when DELIVERY_API_PORT=0). */
  apiUrl: string;
  metrics: DeliveryMetrics;
}

export async function startDeliveryService(
  config: StreamConfig,
  options: { log: Logger; fetch?: typeof fetch },
): Promise<DeliveryService> {
  const { log } = options;
  const key = await importDestinationKey(config.delivery.encryptionKey);
  const names = topicNames(config.kafka.topicPrefix);
  const pool = createNeonPool({
    databaseUrl: config.database.url,
    ...(config.database.wsRelayUrl === undefined ? {} : { wsRelayUrl: config.database.wsRelayUrl }),
    ...(config.database.schema === undefined ? {} : { schema: config.database.schema }),
    // Batch commits of the partitions in flight, plus the resumer's transaction while it sends.
    max: 6,
    onIdleClientError: (error) => log.warn({ err: error }, "idle Postgres connection failed"),
  });
  pool.on("connect", (client: PoolClient) => {
    client.on("error", (error: Error) => log.warn({ err: error }, "Postgres connection lost"));
  });
  const transactions = new NeonBatchTransactions(pool);
  const kafka = createKafka(config.kafka, log);
  const groupId = config.delivery.groupId;
  const deadLetters = new KafkajsDeadLetterSink(kafka, {
    topic: names.dlq,
    consumerGroup: groupId,
  });
  const counts = { delivered: 0, deadLettered: 0 };
  const metrics = new DeliveryMetrics();
  const observer = {
    ...wrapCounts(metrics, counts),
    retrying: (operation: string) => metrics.retrying(operation),
    batchSeconds: (seconds: number) => metrics.batchSeconds(seconds),
  };
  const directory = new NeonDestinationDirectory(pool, key, config.delivery.directoryTtlMs, log);
  const sender = new GraphApiMetaSender({
    baseUrl: config.delivery.metaGraphUrl,
    version: config.delivery.metaGraphVersion,
    timeoutMs: config.delivery.timeoutMs,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const backoff = { initialMs: config.delivery.retryInitialMs, maxMs: config.delivery.retryMaxMs };
  const pauses = new DestinationPauses();
  const handler = createDeliveryBatchHandler({
    directory,
    sender,
    transactions,
    deadLetters,
    groupId,
    backoff,
    pauses,
    pauseAfterMs: config.delivery.pauseAfterMs,
    key,
    log,
    observer,
  });
  const resumer = new ParkedResumer({
    sql: pool,
    transactions,
    directory,
    sender,
    deadLetters,
    pauses,
    key,
    intervalMs: config.delivery.parkedRetryMs,
    backoff,
    pauseAfterMs: config.delivery.pauseAfterMs,
    log,
    // A parked request tried again and still failing stays parked: not counted as parked again.
    observer: { ...observer, parked: () => {}, parkedNow: (e, d) => metrics.parkedNow(e, d) },
  });
  const source = new KafkajsEventSource({
    kafka,
    groupId,
    topics: [names.events, names.capi],
    fromBeginning: config.consumer.fromBeginning,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    heartbeatIntervalMs: config.consumer.heartbeatIntervalMs,
    maxBytesPerPartition: config.consumer.maxBytesPerPartition,
    maxBytes: config.consumer.maxBytes,
    maxWaitMs: config.consumer.maxWaitMs,
    partitionsConcurrency: config.consumer.partitionsConcurrency,
    lagPollIntervalMs: config.consumer.lagPollIntervalMs,
    loadNextOffsets: (topic, partitions) =>
      transactions.loadNextOffsets(groupId, topic, partitions),
    log,
    observer: metrics,
  });
  const app = new Hono<{ Variables: { requestId: string } }>();
  app.use(requestId());
  registerOpsRoutes(app, {
    opsToken: config.api.opsToken,
    prometheus: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
    readiness: async () => ({
      database: await pool.query("SELECT 1").then(
        () => ({ ok: true }),
        (error: unknown) => ({
          ok: false,
          message: `Postgres does not answer: ${(error as Error).message}`,
        }),
      ),
      kafka: source.isHealthy()
        ? { ok: true }
        : { ok: false, message: "the Kafka consumer is not connected to its group" },
    }),
  });
  const server = await new Promise<Server>((done) => {
    const s = serve(
      { fetch: app.fetch, port: config.delivery.apiPort, hostname: config.api.host },
      () => done(s as Server),
    );
  });
  const apiUrl = `http://${config.api.host}:${(server.address() as AddressInfo).port}`;
  await source.start(handler);
  resumer.start();
  log.info(
    { groupId, graph: config.delivery.metaGraphUrl, topics: [names.events, names.capi], apiUrl },
    "delivery service consuming",
  );
  return {
    isHealthy: () => source.isHealthy(),
    counts: () => ({ ...counts }),
    apiUrl,
    metrics,
    async stop() {
      await Promise.all([source.stop(), resumer.stop()]);
      await new Promise((done) => server.close(done));
      await Promise.all([pool.end(), sender.close()]);
    },
  };
}

/** The metrics, plus the since-start counts the service reports. */
function wrapCounts(metrics: DeliveryMetrics, counts: { delivered: number; deadLettered: number }) {
  return {
    forwarded: (kind: string, n: number) => {
      counts.delivered += n;
      metrics.forwarded(kind, n);
    },
    deadLettered: (kind: string, n: number) => {
      counts.deadLettered += n;
      metrics.deadLettered(kind, n);
    },
    failed: (kind: string, n: number) => metrics.failed(kind, n),
    parked: (kind: string, n: number) => metrics.parked(kind, n),
    requestSeconds: (kind: string, s: number) => metrics.requestSeconds(kind, s),
  };
}
