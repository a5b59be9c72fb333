/** Builds model monitoring from config: the batch stage the metrics pipeline calls, the outbox publisher and the purge timer. */
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ConfigError } from "../../src/core/errors";
import { type LabelSignal, policyFromSettings } from "../../src/core/monitoring/index";
import type { TopicNames } from "../../src/core/topics";
import type { WindowObservation } from "../../src/core/windows/aggregate-windows";
import type { BackoffSpec } from "../pipeline/backoff-ms";
import type { Clock } from "../ports/clock";
import { createMonitoringDecoder } from "./decode-monitoring-record";
import { ModelReferenceSource } from "./model-reference-source";
import type { MonitoringConfig } from "./monitoring-config";
import { MonitoringMetrics } from "./monitoring-metrics";
import {
  KafkajsMessageProducer,
  type MessageProducer,
  MonitoringPublisher,
} from "./monitoring-publisher";
import { type MonitoringBatchSummary, MonitoringStage } from "./monitoring-stage";
import type { PredictionRow } from "./monitoring-store";
import {
  NeonMonitoringOutbox,
  NeonMonitoringTransaction,
  type Queryable,
} from "./neon-monitoring-store";

/** A record of the batch as the pipeline holds it: its raw value and what the metrics decoded. */
export interface StageRecord {
  value: Buffer | null;
  observation: Pick<WindowObservation, "kind" | "tenant">;
}

/** The hook the metrics pipeline calls inside each batch transaction. */
export interface BatchStage {
  /**
   * Runs in the batch's transaction after the metrics were written; `connection` is that
   * transaction's database connection. Throwing rolls the whole batch back (it is retried).
   */
  apply(connection: unknown, records: readonly StageRecord[], nowMs: number): Promise<void>;
}

export interface Monitoring {
  stage: BatchStage;
  /** Starts the outbox publisher and the purge timer. */
  start(): void;
  /** Stops them (after the round in hand). */
  stop(): Promise<void>;
}

export interface CreateMonitoringOptions {
  config: MonitoringConfig;
  /** Pool for the publisher and purges (never a batch's connection). */
  pool: Queryable;
  kafka: Kafka;
  topics: TopicNames;
  registry: Registry;
  log: Logger;
  clock: Clock;
  allowedLatenessMs: number;
  maxFutureSkewMs: number;
  backoff: BackoffSpec;
  /** Statement timing hook (the stream processor's db latency histogram). */
  dbTimer?: (operation: string, durationMs: number) => void;
  /** For tests: replaces the kafkajs producer. */
  producer?: MessageProducer;
}

/** Builds model monitoring; a ConfigError names a bad combination of settings. */
export function createMonitoring(options: CreateMonitoringOptions): Monitoring {
  const { config, log } = options;
  if (config.webhooks.urls.length > 0 && config.webhooks.secret === undefined) {
    throw new ConfigError(
      "MONITORING_WEBHOOK_SECRET is required when MONITORING_WEBHOOK_URLS is set.",
    );
  }
  const metrics = new MonitoringMetrics(options.registry);
  const stage = new MonitoringStage({
    settings: config.settings,
    policy: policyFromSettings(config.settings.retrain),
    references: new ModelReferenceSource({ modelsDir: config.modelsDir, log }),
    allowedLatenessMs: options.allowedLatenessMs,
    maxFutureSkewMs: options.maxFutureSkewMs,
    webhookTargets: config.webhooks.urls,
    log,
    observer: metrics,
  });
  const decode = createMonitoringDecoder(config.settings.labels.conversionEvents);
  const outbox = new NeonMonitoringOutbox(options.pool);
  const publisher = new MonitoringPublisher({
    outbox,
    producer: options.producer ?? new KafkajsMessageProducer(options.kafka),
    topics: { alerts: options.topics.alerts, retrainRequests: options.topics.retrainRequests },
    webhooks: config.webhooks,
    backoff: options.backoff,
    intervalMs: config.publishIntervalMs,
    clock: options.clock,
    log,
    observer: metrics,
  });
  let purgeTimer: NodeJS.Timeout | undefined;
  let skipped = 0;

  const batchStage: BatchStage = {
    async apply(connection, records, nowMs) {
      if (!config.enabled) return;
      if (connection === undefined || connection === null) {
        throw new ConfigError(
          "Model monitoring needs the batch transaction's database connection; this metrics store does not offer one (set MONITORING_ENABLED=false to run without monitoring).",
        );
      }
      const predictions: PredictionRow[] = [];
      const signals: LabelSignal[] = [];
      const tenants = new Set<string>();
      for (const r of records) {
        tenants.add(r.observation.tenant);
        const decoded = decode(r.observation.kind, r.value);
        if (decoded.kind === "prediction") predictions.push(decoded.row);
        else if (decoded.kind === "label") signals.push(decoded.signal);
        else if (decoded.reason !== undefined) skipped += 1;
      }
      const summary: MonitoringBatchSummary = await stage.apply(
        new NeonMonitoringTransaction(connection as Queryable, options.dbTimer),
        { predictions, signals, tenants },
        nowMs,
      );
      if (summary.alerts > 0 || summary.retrainRequests > 0 || skipped > 0) {
        log.info(
          { ...summary, skippedRecords: skipped },
          "monitoring: alerts or retraining requests opened",
        );
        skipped = 0;
      } else {
        log.debug(summary, "monitoring batch");
      }
    },
  };

  return {
    stage: batchStage,
    start() {
      if (!config.enabled) return;
      publisher.start();
      if (config.purgeIntervalMs > 0) {
        purgeTimer = setInterval(() => {
          outbox
            .purge(options.clock.nowMs() - config.retentionMs)
            .then((n) => {
              if (n.predictions + n.labelKeys + n.outbox > 0)
                log.info(n, "purged expired monitoring rows");
            })
            .catch((error: unknown) => log.warn({ err: error }, "purging monitoring rows failed"));
        }, config.purgeIntervalMs);
        purgeTimer.unref();
      }
    },
    async stop() {
      if (purgeTimer !== undefined) clearInterval(purgeTimer);
      await publisher.stop();
    },
  };
}
