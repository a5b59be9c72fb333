/** Composition root of the stream processor: builds the adapters from config, wires and runs them. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import { isDriftlineError } from "#core/errors";
import { topicNames } from "#core/topics";
import { importWebhookEncryptionKey } from "#core/webhooks";
import { MINUTE_MS } from "#core/windows";
import { AnomalyMetrics } from "./anomaly/anomaly-metrics";
import { AnomalyStage } from "./anomaly/anomaly-stage";
import { type IdleCloseTimer, startIdleCloseTimer } from "./anomaly/idle-close-timer";
import { openNeonAnomalies } from "./anomaly/neon-anomaly-store";
import { createApi, type ReadinessCheck } from "./api/create-api";
import { backoffMs } from "./batch/backoff-ms";
import type { BatchStage } from "./batch/batch-stage";
import type { Clock } from "./clock/clock";
import { systemClock } from "./clock/system-clock";
import { loadStreamConfig, type StreamConfig } from "./config";
import { createNeonPool, type PoolClient } from "./db/create-pool";
import { NeonApiKeyStore } from "./db/neon-api-key-store";
import { NeonBatchTransactions } from "./db/neon-batch-transactions";
import { NeonMetricsStore } from "./db/neon-metrics-store";
import { createKafka, saslOptions } from "./kafka/create-kafka";
import { ensureTopics } from "./kafka/ensure-topics";
import type { BatchHandler } from "./kafka/event-source";
import { KafkajsConsumerBacklog } from "./kafka/kafkajs-consumer-backlog";
import { KafkajsDeadLetterSink } from "./kafka/kafkajs-dead-letter-sink";
import { KafkajsEventSource } from "./kafka/kafkajs-event-source";
import { createMonitoring } from "./monitoring/create-monitoring";
import { installCrashPolicy } from "./observability/crash-policy";
import { createLogger } from "./observability/create-logger";
import { StreamMetrics } from "./observability/stream-metrics";
import { createRecordDecoder, type RecordKind } from "./pipeline/decode-record";
import { createMetricsBatchHandler } from "./pipeline/handle-metrics-batch";
import { MetricsPipeline } from "./pipeline/metrics-pipeline";
import { createRegistryBatchHandler } from "./registry/handle-registry-batch";
import { openNeonModelRegistry } from "./registry/neon-model-registry-store";
import { purgeExpired } from "./retention/purge-expired";

export interface StreamProcessor {
  /** `http://host:port` of the API (the real port when STREAM_API_PORT=0). */
  apiUrl: string;
  metrics: StreamMetrics;
  /** Stops consuming after the batch in hand, then closes the API, Kafka and Postgres. Idempotent. */
  stop(): Promise<void>;
}

/** Longest a readiness probe waits for the database, ms. */
const READY_DB_TIMEOUT_MS = 2_000;
/** Connections of the read API's own pool. */
const API_POOL_MAX = 2;
/** Longest one read API statement may run, ms. */
const API_STATEMENT_TIMEOUT_MS = 15_000;

export async function startStreamProcessor(
  config: StreamConfig,
  options: { log?: Logger; clock?: Clock } = {},
): Promise<StreamProcessor> {
  const log = options.log ?? createLogger(config.logLevel);
  // Imported once, before anything opens: a bad key fails the start, not each delivery.
  const webhookKey = await importWebhookEncryptionKey(config.monitoring.webhooks.encryptionKey);
  // Processing time: the system clock, or a test's (accelerated) one.
  const clock = options.clock ?? systemClock;
  const metrics = new StreamMetrics();
  const names = topicNames(config.kafka.topicPrefix);
  const consumed = config.consumer.topics.map((t) => names[t]);
  const kindByTopic = new Map<string, RecordKind>([
    [names.events, "event"],
    [names.capi, "event"],
    [names.predictions, "prediction"],
  ]);

  const pool = createNeonPool({
    databaseUrl: config.database.url,
    ...(config.database.wsRelayUrl === undefined ? {} : { wsRelayUrl: config.database.wsRelayUrl }),
    ...(config.database.schema === undefined ? {} : { schema: config.database.schema }),
    max: config.database.poolMax,
    onIdleClientError: (error) => log.warn({ err: error }, "idle Postgres connection failed"),
  });
  // A connection that drops while checked out (inside a transaction, between statements) emits
  // 'error' on its client, where pg-pool listens only while the client is idle: without this
  // listener that would crash the process. The transaction's next statement fails instead,
  // the batch is retried, and the broken client is discarded on release.
  pool.on("connect", (client: PoolClient) => {
    client.on("error", (error: Error) => log.warn({ err: error }, "Postgres connection lost"));
  });
  const transactions = new NeonBatchTransactions(pool, metrics.dbTimer);
  const store = new NeonMetricsStore(pool, metrics.dbTimer);
  // The read API has a small pool of its own: slow or many reads can never take the
  // connections the batch transactions need.
  const apiPool = createNeonPool({
    databaseUrl: config.database.url,
    ...(config.database.wsRelayUrl === undefined ? {} : { wsRelayUrl: config.database.wsRelayUrl }),
    ...(config.database.schema === undefined ? {} : { schema: config.database.schema }),
    max: API_POOL_MAX,
    timeouts: { statementMs: API_STATEMENT_TIMEOUT_MS },
    onIdleClientError: (error) => log.warn({ err: error }, "idle Postgres connection failed"),
  });
  const reader = new NeonMetricsStore(apiPool, metrics.dbTimer);
  const kafka = createKafka(config.kafka, log);
  const deadLetters = new KafkajsDeadLetterSink(kafka, {
    topic: names.dlq,
    consumerGroup: config.consumer.groupId,
  });
  const backoff = { initialMs: config.pipeline.retryInitialMs, maxMs: config.pipeline.retryMaxMs };
  for (const { name, replacedBy } of config.deprecatedNames) {
    log.warn({ name, replacedBy }, `${name} is deprecated; set ${replacedBy} instead`);
  }
  // Drift, labels, performance, alerts and retraining run as a stage of every metrics batch.
  const monitoring = createMonitoring({
    config: config.monitoring,
    pool,
    kafka,
    topics: names,
    registry: metrics.registry,
    log,
    clock,
    allowedLatenessMs: config.pipeline.allowedLatenessMs,
    maxFutureSkewMs: config.pipeline.maxFutureSkewMs,
    backoff,
    dbTimer: metrics.dbTimer,
    tenantLabels: config.api.tenantLabels,
    webhookKey,
    allowLocalWebhookUrls: !config.production,
  });
  // The stages of every metrics batch transaction, in order, after the metrics themselves: a new
  // one (retraining, anomaly detection) implements BatchStage and is listed here.
  // Anomaly detection runs after monitoring: it reads the minute windows this batch wrote.
  const anomalies = new AnomalyStage({
    config: {
      maxSeriesPerTenant: config.anomaly.maxSeriesPerTenant,
      maxMinutesPerBatch: config.anomaly.maxMinutesPerBatch,
      checkpointMinutes: config.anomaly.checkpointMinutes,
      maxCachedSeries: config.anomaly.maxCachedSeries,
      retireAfterMs: config.anomaly.retireAfterMs,
      idleCloseMs: config.anomaly.idleCloseMs,
      idleMaxLagMs: config.anomaly.idleMaxLagMs,
      allowedLatenessMs: config.pipeline.allowedLatenessMs,
      alertSource: config.monitoring.settings.alerts.source,
      operatorSinks: config.monitoring.webhooks.operator.urls,
    },
    open: openNeonAnomalies(metrics.dbTimer),
    log,
    observer: new AnomalyMetrics(metrics.registry),
  });
  const stages: BatchStage[] = [
    ...(config.monitoring.enabled ? [monitoring.stage] : []),
    ...(config.anomaly.enabled ? [anomalies] : []),
  ];
  const pipeline = new MetricsPipeline({
    transactions,
    store,
    clock,
    groupId: config.consumer.groupId,
    windowing: {
      // Hour windows are rolled up from the minutes (rollUpHours), not written by every batch.
      widthsMs: [MINUTE_MS],
      allowedLatenessMs: config.pipeline.allowedLatenessMs,
      maxFutureSkewMs: config.pipeline.maxFutureSkewMs,
    },
    stages,
    dimensionCaps: config.pipeline.dimensionCaps,
    dimensionObserver: {
      overflowed: (overflows) => metrics.dimensionOverflowed(overflows),
      capReached: (value, cap) =>
        log.warn(
          {
            tenant: value.tenant,
            dimension: value.dimension,
            cap,
            value: value.value.slice(0, 64),
          },
          `tenant reached its cap of ${cap} distinct ${value.dimension === "event_name" ? "event names" : "campaigns"}; events with new ones are counted under "(other)"`,
        ),
    },
  });
  const source = new KafkajsEventSource({
    kafka,
    groupId: config.consumer.groupId,
    topics: consumed,
    fromBeginning: config.consumer.fromBeginning,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    heartbeatIntervalMs: config.consumer.heartbeatIntervalMs,
    maxBytesPerPartition: config.consumer.maxBytesPerPartition,
    maxBytes: config.consumer.maxBytes,
    maxWaitMs: config.consumer.maxWaitMs,
    partitionsConcurrency: config.consumer.partitionsConcurrency,
    lagPollIntervalMs: config.consumer.lagPollIntervalMs,
    loadNextOffsets: (topic, partitions) =>
      transactions.loadNextOffsets(config.consumer.groupId, topic, partitions),
    onAssignment: () => pipeline.loadState(),
    log,
    observer: metrics,
  });
  const handler = createMetricsBatchHandler({
    pipeline,
    deadLetters,
    decode: createRecordDecoder(config.pipeline.eventValidation),
    kindOfTopic: (topic) => kindByTopic.get(topic),
    clock,
    backoff,
    log,
    observer: metrics,
  });

  // The model registry (`models`): versions and promotions from the edge into model_versions,
  // committed with their offsets like the metrics, but outside the metrics' group commit.
  const registryHandler = createRegistryBatchHandler({
    transactions,
    openRegistry: openNeonModelRegistry(metrics.dbTimer),
    deadLetters,
    groupId: config.consumer.groupId,
    clock,
    backoff,
    log,
    observer: metrics,
  });
  const routeBatch: BatchHandler = (batch, control) =>
    batch.topic === names.models ? registryHandler(batch, control) : handler(batch, control);

  const api = createApi({
    reader,
    keys: new NeonApiKeyStore(pool),
    clock,
    log,
    readiness: async (): Promise<Record<string, ReadinessCheck>> => ({
      database: await withTimeout(store.ping(), READY_DB_TIMEOUT_MS).then(
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
    prometheus: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
    readRoles: config.api.readRoles,
    keyCacheTtlMs: config.api.keyCacheTtlMs,
    maxRows: config.api.maxRows,
    allowedLatenessMs: config.pipeline.allowedLatenessMs,
    opsToken: config.api.opsToken,
  });
  // The API listens first: /health answers and /ready says why not while the rest starts.
  const server = await new Promise<Server>((done) => {
    const s = serve({ fetch: api.fetch, port: config.api.port, hostname: config.api.host }, () =>
      done(s as Server),
    );
  });
  const address = server.address() as AddressInfo;
  const apiUrl = `http://${config.api.host}:${address.port}`;
  log.info({ apiUrl }, "API listening");

  const stopSignal = new AbortController();
  let purgeTimer: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  let rollupTimer: NodeJS.Timeout | undefined;
  let idleClose: IdleCloseTimer | undefined;
  let rollingUp: Promise<void> | undefined;
  let consuming = false;
  const rollUp = (): Promise<void> => {
    rollingUp ??= store
      .rollUpHours()
      .then((hours) => {
        if (hours > 0) log.debug({ hours }, "rolled up hourly windows");
      })
      .catch((error: unknown) => log.warn({ err: error }, "rolling up hourly windows failed"))
      .finally(() => {
        rollingUp = undefined;
      });
    return rollingUp;
  };
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      log.info("stopping: finishing the batch in hand");
      stopSignal.abort();
      if (purgeTimer !== undefined) clearInterval(purgeTimer);
      if (retentionTimer !== undefined) clearInterval(retentionTimer);
      if (rollupTimer !== undefined) clearInterval(rollupTimer);
      await idleClose
        ?.stop()
        .catch((error: unknown) => log.warn({ err: error }, "idle close stop failed"));
      await source
        .stop()
        .catch((error: unknown) => log.warn({ err: error }, "consumer stop failed"));
      // Leaves the hour rows complete (hourly reads are exact without it too).
      if (consuming && config.pipeline.rollupIntervalMs > 0) {
        await rollingUp;
        await rollUp();
      }
      await monitoring
        .stop()
        .catch((error: unknown) => log.warn({ err: error }, "monitoring stop failed"));
      await deadLetters.close().catch(() => {});
      await new Promise<void>((done) => server.close(() => done()));
      await pool.end().catch(() => {});
      await apiPool.end().catch(() => {});
      log.info("stopped");
    })();
    return stopped;
  };

  try {
    if (config.consumer.ensureTopics) {
      await untilDone("create topics", log, config, stopSignal.signal, () =>
        ensureTopics(
          config.kafka.brokers,
          [
            ...consumed,
            names.dlq,
            ...(config.monitoring.enabled ? [names.alerts, names.retrainRequests] : []),
          ].map((name) => ({ name })),
          {
            defaultPartitions: config.consumer.topicPartitions,
            kafka: {
              clientId: config.kafka.clientId,
              ssl: config.kafka.ssl,
              ...(config.kafka.sasl === undefined ? {} : { sasl: saslOptions(config.kafka.sasl) }),
            },
          },
        ),
      );
    }
    // The database may come up after this process: wait for it rather than crash-loop.
    await untilDone("load watermarks", log, config, stopSignal.signal, () => pipeline.loadState());
    if (!stopSignal.signal.aborted) {
      await source.start(routeBatch);
      consuming = true;
      monitoring.start();
    }
  } catch (error) {
    await stop();
    throw error;
  }

  if (config.pipeline.dedupPurgeIntervalMs > 0) {
    purgeTimer = setInterval(() => {
      const before = clock.nowMs() - config.pipeline.dedupRetentionMs;
      store
        .purgeSeen(before)
        .then((deleted) => {
          if (deleted > 0) log.info({ deleted }, "purged expired dedup entries");
        })
        .catch((error: unknown) => log.warn({ err: error }, "purging dedup entries failed"));
    }, config.pipeline.dedupPurgeIntervalMs);
    purgeTimer.unref();
  }
  const retention = config.retention;
  const keepsSomething = [
    retention.metricWindowsDays,
    retention.driftDays,
    retention.alertsDays,
    retention.retrainingDays,
    retention.deliveriesDays,
    retention.anomaliesDays,
  ].some((days) => days > 0);
  if (retention.intervalMs > 0 && keepsSomething) {
    let purging = false;
    retentionTimer = setInterval(() => {
      if (purging) return;
      purging = true;
      purgeExpired(pool, retention, clock.nowMs())
        .then((deleted) => {
          if (Object.values(deleted).some((n) => n > 0)) {
            log.info({ deleted }, "purged rows past their retention");
          }
        })
        .catch((error: unknown) => log.warn({ err: error }, "retention purge failed"))
        .finally(() => {
          purging = false;
        });
    }, retention.intervalMs);
    retentionTimer.unref();
  }
  // Tenants whose traffic stops entirely do not move their watermark: their minutes are closed
  // by wall clock once it has stood still for the grace, while the group has no backlog.
  if (consuming && config.anomaly.enabled && config.anomaly.idleCloseMs > 0) {
    idleClose = startIdleCloseTimer({
      stage: anomalies,
      transactions,
      backlog: new KafkajsConsumerBacklog(
        kafka,
        consumed.filter((topic) => kindByTopic.has(topic)),
        (topic, partitions) =>
          transactions.loadNextOffsets(config.consumer.groupId, topic, partitions),
      ),
      clock,
      intervalMs: config.anomaly.idleCheckIntervalMs,
      log,
    });
  }
  if (config.pipeline.rollupIntervalMs > 0) {
    rollupTimer = setInterval(() => void rollUp(), config.pipeline.rollupIntervalMs);
    rollupTimer.unref();
  }
  log.info(
    { topics: consumed, groupId: config.consumer.groupId, dlq: names.dlq },
    "stream processor started",
  );
  return { apiUrl, metrics, stop };
}

/** Retries `fn` with back-off until it succeeds or `signal` aborts (then resolves quietly). */
async function untilDone(
  what: string,
  log: Logger,
  config: StreamConfig,
  signal: AbortSignal,
  fn: () => Promise<unknown>,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt += 1) {
    try {
      await fn();
      return;
    } catch (error) {
      if (isDriftlineError(error) && !error.retryable && error.code === "CONFIG") throw error;
      const delayMs = backoffMs(attempt, {
        initialMs: config.pipeline.retryInitialMs,
        maxMs: config.pipeline.retryMaxMs,
      });
      log.warn({ err: error, attempt, delayMs }, `${what} failed; retrying`);
      await systemClock.sleep(delayMs, signal);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref();
    }),
  ]);
}

/** `npx tsx stream-processor/main.ts`: runs until SIGTERM/SIGINT, then stops gracefully. */
async function main(): Promise<void> {
  let config: StreamConfig;
  try {
    config = loadStreamConfig();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  installCrashPolicy(log);
  // A signal during start-up is remembered and honoured once the processor runs, so a stop
  // request is never lost and never kills the process mid-start.
  let early: NodeJS.Signals | undefined;
  const remember = (signal: NodeJS.Signals) => {
    early ??= signal;
  };
  process.on("SIGTERM", remember);
  process.on("SIGINT", remember);
  const processor = await startStreamProcessor(config, { log });
  process.off("SIGTERM", remember);
  process.off("SIGINT", remember);
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, "signal received");
    const force = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown timed out; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    processor.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  if (early !== undefined) onSignal(early);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `stream processor failed to start: ${(error as Error).stack ?? String(error)}\n`,
    );
    process.exit(1);
  });
}
