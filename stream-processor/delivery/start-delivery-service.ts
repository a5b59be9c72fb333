/** Builds and starts the delivery service: a consumer group over `events` and `capi` forwarding to destinations. */
import type { Logger } from "pino";
import { importDestinationKey } from "#core/destinations";
import { topicNames } from "#core/topics";
import type { StreamConfig } from "../config";
import { createNeonPool, type PoolClient } from "../db/create-pool";
import { NeonBatchTransactions } from "../db/neon-batch-transactions";
import { createKafka } from "../kafka/create-kafka";
import { KafkajsDeadLetterSink } from "../kafka/kafkajs-dead-letter-sink";
import { KafkajsEventSource } from "../kafka/kafkajs-event-source";
import { GraphApiMetaSender } from "./graph-api-meta-sender";
import { createDeliveryBatchHandler } from "./handle-delivery-batch";
import { NeonDestinationDirectory } from "./neon-destination-directory";

export interface DeliveryService {
  stop(): Promise<void>;
  isHealthy(): boolean;
  /** Events delivered and dead-lettered since start. */
  counts(): { delivered: number; deadLettered: number };
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
    max: 4,
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
  const handler = createDeliveryBatchHandler({
    directory: new NeonDestinationDirectory(pool, key, config.delivery.directoryTtlMs, log),
    sender: new GraphApiMetaSender({
      baseUrl: config.delivery.metaGraphUrl,
      version: config.delivery.metaGraphVersion,
      timeoutMs: config.delivery.timeoutMs,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    }),
    transactions,
    deadLetters,
    groupId,
    backoff: { initialMs: config.delivery.retryInitialMs, maxMs: config.delivery.retryMaxMs },
    log,
    observer: {
      delivered: (n) => {
        counts.delivered += n;
      },
      deadLettered: (n) => {
        counts.deadLettered += n;
      },
      retrying: () => {},
    },
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
    observer: { lag: () => {}, assignmentChanged: () => {}, skippedByRetention: () => {} },
  });
  await source.start(handler);
  log.info(
    { groupId, graph: config.delivery.metaGraphUrl, topics: [names.events, names.capi] },
    "delivery service consuming",
  );
  return {
    isHealthy: () => source.isHealthy(),
    counts: () => ({ ...counts }),
    async stop() {
      await source.stop();
      await pool.end();
    },
  };
}
