/** Builds model monitoring from config: the batch stage the metrics pipeline calls, the outbox publisher and the purge timer. */
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ConfigError } from "#core/errors";
import { type LabelSignal, monitoringSettingsView, policyFromSettings } from "#core/monitoring";
import type { TopicNames } from "#core/topics";
import { createGuardedFetch } from "../alerts/guarded-fetch";
import {
  KafkajsMessageProducer,
  type MessageProducer,
  MonitoringPublisher,
} from "../alerts/monitoring-publisher";
import { NeonMonitoringOutbox } from "../alerts/neon-alert-outbox";
import { neonTenantEndpoints } from "../alerts/tenant-webhooks";
import type { BackoffSpec } from "../batch/backoff-ms";
import type { BatchStage } from "../batch/batch-stage";
import type { Clock } from "../clock/clock";
import { isTransientFailure, sqlstateOf } from "../db/sqlstate";
import type { Queryable } from "../db/timed-query";
import { createMonitoringDecoder, type MonitoringRecord } from "./decode-monitoring-record";
import { type Attempt, applyIsolatingRefused, type IsolationOutcome } from "./isolate-refused";
import { ModelReferenceSource } from "./model-reference-source";
import type { MonitoringConfig } from "./monitoring-config";
import { MonitoringMetrics } from "./monitoring-metrics";
import {
  EMPTY_MONITORING_SUMMARY,
  type MonitoringBatchSummary,
  type MonitoringInput,
  MonitoringStage,
} from "./monitoring-stage";
import type { PredictionRow } from "./monitoring-store";
import { openNeonMonitoring } from "./neon-monitoring-store";

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
  /** For tests: replaces the delivering fetch (default: createGuardedFetch). */
  fetch?: typeof fetch;
  /** For tests: replaces the kafkajs producer. */
  producer?: MessageProducer;
  /** Per-tenant drift gauges on /metrics (STREAM_METRICS_TENANT_LABELS). Default false. */
  tenantLabels?: boolean;
  /** WEBHOOK_ENCRYPTION_KEY, imported (it opens tenant endpoints' secrets when delivering). */
  webhookKey: CryptoKey;
  /** Not production: tenant endpoints on http and loopback are delivered to as well. */
  allowLocalWebhookUrls: boolean;
}

/** Builds model monitoring; a ConfigError names a bad combination of settings. */
export function createMonitoring(options: CreateMonitoringOptions): Monitoring {
  const { config, log } = options;
  const { operator } = config.webhooks;
  if (operator.urls.length > 0 && operator.secret === undefined) {
    throw new ConfigError(
      "MONITORING_OPERATOR_WEBHOOK_SECRET is required when MONITORING_OPERATOR_WEBHOOK_URLS is set.",
    );
  }
  const metrics = new MonitoringMetrics(options.registry, {
    tenantLabels: options.tenantLabels ?? false,
  });
  const stage = new MonitoringStage({
    settings: config.settings,
    policy: policyFromSettings(config.settings.retrain),
    references: new ModelReferenceSource({
      modelsDir: config.modelsDir,
      log,
      maxReferences: config.cache.references,
    }),
    windowCacheBytes: config.cache.windowBytes,
    allowedLatenessMs: options.allowedLatenessMs,
    maxFutureSkewMs: options.maxFutureSkewMs,
    operatorSinks: operator.urls,
    log,
    observer: metrics,
  });
  // Every event naming a prediction or click id is kept: the stage applies each tenant's own
  // conversion events (the operator's unless the tenant set them).
  const decode = createMonitoringDecoder([]);
  const outbox = new NeonMonitoringOutbox(options.pool);
  const publisher = new MonitoringPublisher({
    outbox,
    producer: options.producer ?? new KafkajsMessageProducer(options.kafka),
    topics: { alerts: options.topics.alerts, retrainRequests: options.topics.retrainRequests },
    webhooks: {
      operatorSecret: operator.secret,
      timeoutMs: config.webhooks.timeoutMs,
      maxAttempts: config.webhooks.maxAttempts,
      allowLocalUrls: options.allowLocalWebhookUrls,
    },
    endpoints: neonTenantEndpoints(options.pool, options.webhookKey),
    // Each delivery resolves the host itself and connects only to an address the rules allow.
    fetch: options.fetch ?? createGuardedFetch({ allowLocal: options.allowLocalWebhookUrls }),
    backoff: options.backoff,
    intervalMs: config.publishIntervalMs,
    clock: options.clock,
    log,
    observer: metrics,
  });
  let purgeTimer: NodeJS.Timeout | undefined;
  let skipped = 0;
  const openMonitoring = openNeonMonitoring(options.dbTimer);

  const batchStage: BatchStage = {
    // Kept until the batch commits: a prediction's row, a label signal, or why a record cannot
    // be monitored; nothing for most events.
    select(record) {
      if (!config.enabled) return undefined;
      const decoded = decode(record);
      return decoded.kind === "skip" && decoded.reason === undefined ? undefined : decoded;
    },
    async apply(tx, records, nowMs) {
      if (!config.enabled) return;
      const items: MonitoredRecord[] = [];
      const tenants = new Set<string>();
      for (const r of records) {
        tenants.add(r.observation.tenant);
        const decoded = r.input as MonitoringRecord | undefined;
        if (decoded === undefined) continue;
        if (decoded.kind === "skip") {
          skipped += 1;
          metrics.refusedRecords(
            r.observation.kind === "prediction" ? "prediction" : "label",
            "unusable",
          );
        } else items.push(decoded);
      }
      // Savepoints keep monitoring from taking the batch down: should the database refuse
      // monitoring's rows (or monitoring have a bug), only monitoring's part is rolled back and
      // re-applied tenant by tenant, then record by record within a refusing tenant, so that only
      // what was refused is left out; the metrics of the batch commit either way. A transient
      // failure (connection lost, deadlock) is rethrown, so the whole batch is retried as usual.
      const db = tx.sql;
      const monitoringTx = openMonitoring(tx);
      const summaries: MonitoringBatchSummary[] = [];
      const attempt: Attempt<MonitoredRecord> = async (subset, subsetTenants) => {
        await db.query({ text: "SAVEPOINT driftline_monitoring" });
        try {
          summaries.push(
            await stage.apply(monitoringTx, monitoringInput(subset, subsetTenants), nowMs),
          );
          await db.query({ text: "RELEASE SAVEPOINT driftline_monitoring" });
          return { applied: true };
        } catch (error) {
          if (isTransientFailure(error)) throw error;
          await db.query({ text: "ROLLBACK TO SAVEPOINT driftline_monitoring" });
          await db.query({ text: "RELEASE SAVEPOINT driftline_monitoring" });
          return { applied: false, error };
        }
      };
      const outcome = await applyIsolatingRefused(items, tenants, tenantOf, attempt);
      if (outcome.attempts > 1) {
        metrics.batchFailed();
        reportRefused(outcome);
      }
      const summary = sumSummaries(summaries);
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

  /**
   * Counts and logs what monitoring left out. Only the tenant, the kind of record and what the
   * database said in its fields (SQLSTATE, table, column, constraint) are logged: Postgres'
   * message and context can quote the refused value.
   */
  function reportRefused(outcome: IsolationOutcome<MonitoredRecord>): void {
    for (const { item, error } of outcome.refused) {
      const kind = item.kind === "prediction" ? "prediction" : "label";
      metrics.refusedRecords(kind, "refused");
      log.error(
        { tenant: tenantOf(item), kind, ...errorFacts(error) },
        "monitoring left out a record the database refused; the rest of the batch is monitored",
      );
    }
    for (const { tenant, items, error } of outcome.failedTenants) {
      for (const item of items) {
        metrics.refusedRecords(
          item.kind === "prediction" ? "prediction" : "label",
          "tenant_failed",
        );
      }
      log.error(
        { tenant, records: items.length, ...errorFacts(error) },
        "monitoring failed for this tenant on this batch and was rolled back for it; other tenants are monitored",
      );
    }
  }

  return {
    stage: batchStage,
    start() {
      if (!config.enabled) return;
      publisher.start();
      publishOperatorDefaults(options.pool, config).catch((error: unknown) =>
        log.warn({ err: error }, "storing the operator's monitoring defaults failed"),
      );
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

type MonitoredRecord = Exclude<MonitoringRecord, { kind: "skip" }>;

function tenantOf(record: MonitoredRecord): string {
  return record.kind === "prediction" ? record.row.tenant : record.signal.tenant;
}

function monitoringInput(
  records: readonly MonitoredRecord[],
  tenants: readonly string[],
): MonitoringInput {
  const predictions: PredictionRow[] = [];
  const signals: LabelSignal[] = [];
  for (const r of records) {
    if (r.kind === "prediction") predictions.push(r.row);
    else signals.push(r.signal);
  }
  return { predictions, signals, tenants };
}

function sumSummaries(summaries: readonly MonitoringBatchSummary[]): MonitoringBatchSummary {
  const total = { ...EMPTY_MONITORING_SUMMARY };
  for (const s of summaries) {
    for (const key of Object.keys(total) as (keyof MonitoringBatchSummary)[]) total[key] += s[key];
  }
  return total;
}

/** What may be logged of a failure: a database error's fields, never its message or context. */
function errorFacts(error: unknown): Record<string, unknown> {
  const sqlstate = sqlstateOf(error);
  if (sqlstate === undefined) return { err: error };
  const { table, column, constraint } = error as {
    table?: string;
    column?: string;
    constraint?: string;
  };
  return { sqlstate, table, column, constraint };
}

/**
 * Stores the operator's values of the settings tenants may change, so the API answers the
 * defaults a tenant's settings are layered over (the Worker does not see MONITORING_*).
 */
async function publishOperatorDefaults(pool: Queryable, config: MonitoringConfig): Promise<void> {
  await pool.query({
    text: `INSERT INTO monitoring_settings_defaults (singleton, settings, updated_at)
           VALUES (true, $1::jsonb, now())
           ON CONFLICT (singleton) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
    values: [JSON.stringify(monitoringSettingsView(config.settings))],
  });
}
