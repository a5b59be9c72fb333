/** Builds model monitoring from config: the batch stage the metrics pipeline calls, the outbox publisher and the purge timer. */
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ConfigError, DriftlineError } from "#core/errors";
import { type LabelSignal, policyFromSettings } from "#core/monitoring";
import type { TopicNames } from "#core/topics";
import type { Queryable } from "../db/timed-query";
import type { BackoffSpec } from "../pipeline/backoff-ms";
import type { BatchStage } from "../ports/batch-stage";
import type { Clock } from "../ports/clock";
import { createMonitoringDecoder, type MonitoringRecord } from "./decode-monitoring-record";
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
import { NeonMonitoringOutbox, NeonMonitoringTransaction } from "./neon-monitoring-store";

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
  let warnedNoConnection = false;

  const batchStage: BatchStage = {
    // Kept until the batch commits: a prediction's row, a label signal, or why a record cannot
    // be monitored; nothing for most events.
    select(record) {
      if (!config.enabled) return undefined;
      const decoded = decode(record);
      return decoded.kind === "skip" && decoded.reason === undefined ? undefined : decoded;
    },
    async apply(connection, records, nowMs) {
      if (!config.enabled) return;
      if (typeof (connection as Partial<Queryable> | null)?.query !== "function") {
        // Not a SQL connection (a store without one): monitoring cannot run in this process.
        if (!warnedNoConnection) {
          log.error(
            "model monitoring needs the batch transaction's SQL connection and this metrics store has none: monitoring is off (set MONITORING_ENABLED=false to silence this)",
          );
          warnedNoConnection = true;
        }
        return;
      }
      const predictions: PredictionRow[] = [];
      const signals: LabelSignal[] = [];
      const tenants = new Set<string>();
      for (const r of records) {
        tenants.add(r.observation.tenant);
        const decoded = r.input as MonitoringRecord | undefined;
        if (decoded === undefined) continue;
        if (decoded.kind === "prediction") predictions.push(decoded.row);
        else if (decoded.kind === "label") signals.push(decoded.signal);
        else skipped += 1;
      }
      // A savepoint keeps monitoring from taking the batch down: should the database refuse
      // monitoring's own rows (or monitoring have a bug), only monitoring's part is rolled back
      // and the metrics of the batch still commit. A transient failure (connection lost,
      // deadlock) is rethrown, so the whole batch is retried as usual.
      const db = connection as Queryable;
      await db.query({ text: "SAVEPOINT driftline_monitoring" });
      let summary: MonitoringBatchSummary;
      try {
        summary = await stage.apply(
          new NeonMonitoringTransaction(db, options.dbTimer),
          { predictions, signals, tenants },
          nowMs,
        );
        await db.query({ text: "RELEASE SAVEPOINT driftline_monitoring" });
      } catch (error) {
        if (isTransient(error)) throw error;
        await db.query({ text: "ROLLBACK TO SAVEPOINT driftline_monitoring" });
        metrics.batchFailed();
        log.error(
          { err: error, predictions: predictions.length, signals: signals.length },
          "monitoring failed on this batch and was rolled back; its metrics are committed without it",
        );
        return;
      }
      if (summary.alerts > 0 || summary.retrainRequests > 0 || summary.late > 0 || skipped > 0) {
        log.info(
          { ...summary, skippedRecords: skipped },
          "monitoring: alerts, retraining requests, late or skipped records in this batch",
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

/**
 * Errors worth retrying the whole batch for: Postgres connection, transaction-rollback
 * (serialisation, deadlock), resource and operator classes (08, 40, 53, 57, 58), and errors
 * without a SQLSTATE that are not programming errors (a connection that died mid-statement).
 */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return /^(08|40|53|57|58)/.test(code);
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return false;
  }
  if (error instanceof DriftlineError) return error.retryable;
  return true;
}
