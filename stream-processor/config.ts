/** The stream processor's settings: every environment variable it reads, parsed once by one zod schema. */

import { z } from "zod";
import { ROLES } from "#core/api-keys";
import {
  envBool,
  envInt,
  envList,
  forbidLocalDefault,
  forbidSet,
  isProduction,
  parseEnv,
  productionProblems,
  requireSet,
  requireTrue,
} from "#core/config";
import type { TopicKey } from "#core/topics";
import { LOCAL_WEBHOOK_ENCRYPTION_KEY } from "#core/webhooks";
import {
  type DeliveryConfig,
  deliveryConfigFrom,
  deliveryEnvShape,
} from "./delivery/delivery-config";
import {
  applyDeprecatedAliases,
  type MonitoringConfig,
  monitoringConfigFrom,
  monitoringEnvIssues,
  monitoringEnvShape,
} from "./monitoring/monitoring-config";
import type { RetentionPolicy } from "./retention/purge-expired";

// Environment variables (default in brackets). The README copies this block.
//
//   DATABASE_URL                      postgres://user[:password]@host[:port]/db (required)
//   DATABASE_SCHEMA                   schema to use via search_path [the database's default]
//   NEON_WS_RELAY_URL                 ws://host:port of the local Neon WebSocket relay; unset for Neon [unset]
//   DATABASE_POOL_MAX                 most Postgres connections [8]
//   KAFKA_BROKERS                     comma-separated host:port list [127.0.0.1:19092]
//   KAFKA_CLIENT_ID                   kafkajs client id [driftline-stream-processor]
//   KAFKA_TOPIC_PREFIX                prefix of every topic name, e.g. "staging." [""]
//   KAFKA_SSL                         TLS to the brokers (true for Confluent Cloud) [false]
//   KAFKA_SASL_MECHANISM              plain | scram-sha-256 | scram-sha-512 [unset: no SASL]
//   KAFKA_SASL_USERNAME               SASL user / API key (required with a mechanism) [unset]
//   KAFKA_SASL_PASSWORD               SASL password / API secret (required with a mechanism) [unset]
//   STREAM_TOPICS                     logical topics consumed: events,capi,predictions,models
//                                     (models: the model registry, Postgres model_versions) [all four]
//   STREAM_ENSURE_TOPICS              create missing topics at start [true]
//   STREAM_TOPIC_PARTITIONS           partitions of topics created at start [3]
//   STREAM_CONSUMER_GROUP             Kafka consumer group; also the key of the stored offsets [driftline-stream-metrics]
//   STREAM_FROM_BEGINNING             where a partition without stored offset starts: earliest (true) or latest [true]
//   STREAM_SESSION_TIMEOUT_MS         consumer group session timeout [30000]
//   STREAM_HEARTBEAT_INTERVAL_MS      consumer heartbeat interval [3000]
//   STREAM_MAX_BYTES_PER_PARTITION    fetch size per partition, i.e. the largest batch [8388608]
//   STREAM_MAX_BYTES                  fetch size per request [16777216]
//   STREAM_MAX_WAIT_MS                longest a fetch waits for data [250]
//   STREAM_PARTITIONS_CONCURRENCY     partitions whose batches are processed at once [9]
//   STREAM_EVENT_VALIDATION           envelope: validate the fields the metrics use and that `event`
//                                     is an object; full: also re-validate the Meta event [envelope]
//   STREAM_ALLOWED_LATENESS_MS        watermark = newest event time − this; closes windows [120000]
//   STREAM_MAX_FUTURE_SKEW_MS         event times further ahead of the clock don't move the watermark [300000]
//   STREAM_RETRY_INITIAL_MS           first back-off when the database (or the DLQ) is unavailable [250]
//   STREAM_RETRY_MAX_MS               longest back-off [30000]
//   STREAM_DEDUP_RETENTION_HOURS      how long (tenant, event_name, event_id) is remembered: Meta's
//                                     browser/server dedup window (48 h) plus a day of replay [72]
//   STREAM_DEDUP_PURGE_INTERVAL_MS    how often expired dedup entries are deleted; 0 = never [600000]
//   RETENTION_METRIC_WINDOWS_DAYS     days metric windows (and ingest outcome minutes) are kept; 0 = forever [0]
//   RETENTION_DRIFT_DAYS              days drift and performance results are kept; 0 = forever [0]
//   RETENTION_ALERTS_DAYS             days resolved/acknowledged alerts are kept; 0 = forever [0]
//   RETENTION_RETRAINING_DAYS         days finished retraining requests are kept; 0 = forever [0]
//   RETENTION_ANOMALIES_DAYS          days resolved anomalies are kept (by resolution); 0 = forever [0]
//   RETENTION_DELIVERIES_DAYS         days webhook deliveries and destination batches are kept; 0 = forever [0]
//   RETENTION_PURGE_INTERVAL_MS       how often the retention purge runs; 0 = never [3600000]
//   RETENTION_PURGE_BATCH_ROWS        rows per DELETE of the purge [5000]
//   RETENTION_PURGE_MAX_BATCHES       DELETEs per kind and run [100]
//   STREAM_MAX_EVENT_NAMES_PER_TENANT distinct event names a tenant's windows hold; events with
//                                     other names are counted under "(other)" [500]
//   STREAM_MAX_CAMPAIGNS_PER_TENANT   distinct campaigns a tenant's windows hold; others are
//                                     counted under "(other)" [2000]
//   STREAM_ANOMALY_ENABLED            anomaly detection on the closed minute windows [true]
//   STREAM_ANOMALY_MAX_SERIES_PER_TENANT  series watched per tenant; new ones past it are counted
//                                     as overflow, not watched [1000]
//   STREAM_ANOMALY_MAX_MINUTES_PER_BATCH  closed minutes a batch evaluates per tenant at most (a
//                                     backlog catches up over the following batches) [10080]
//   STREAM_ANOMALY_CHECKPOINT_MINUTES  detector states are written every this many closed minutes
//                                     (and on every anomaly change); a restart replays the rest [10]
//   STREAM_ANOMALY_MAX_CACHED_SERIES  series whose detectors stay in memory between batches [100000]
//   STREAM_ANOMALY_RETIRE_AFTER_HOURS an event name or campaign series without data this long is
//                                     retired (state removed, its slot under the cap freed) [168]
//   STREAM_ANOMALY_IDLE_CLOSE_MS      a tenant whose newest event time has not moved this long
//                                     has its minutes closed by wall clock, as empty; 0 = never [300000]
//   STREAM_ANOMALY_IDLE_MAX_LAG_MS    only for a tenant whose newest event was counted within this
//                                     of its event time (live traffic, not a replay) [3600000]
//   STREAM_ANOMALY_IDLE_CHECK_INTERVAL_MS  how often silent tenants are looked for [30000]
//   STREAM_ROLLUP_INTERVAL_MS         how often hourly windows are recomputed from the minutes that
//                                     changed; hourly reads are exact in between; 0 = never [60000]
//   STREAM_LAG_POLL_INTERVAL_MS       how often consumer lag is refreshed from the brokers [10000]
//   STREAM_SHUTDOWN_TIMEOUT_MS        longest a SIGTERM waits for the batch in hand [30000]
//   STREAM_API_HOST                   listen address of the HTTP API [127.0.0.1]
//   STREAM_API_PORT                   HTTP API port (/health, /ready, /metrics, /v1/metrics); 0 = any [8788]
//   STREAM_API_READ_ROLES             key roles allowed to read metrics [admin]
//   STREAM_API_KEY_CACHE_TTL_MS       how long an API key lookup is cached (revocation delay) [30000]
//   STREAM_API_MAX_ROWS               most rows one /v1/metrics answer may hold [10000]
//   STREAM_OPS_TOKEN                  bearer token /metrics and /ready require; required when
//                                     STREAM_API_HOST is not loopback [unset: open on loopback]
//   STREAM_METRICS_TENANT_LABELS      export per-tenant drift gauges (tenant, model, version,
//                                     feature labels) on /metrics [false]
//   LOG_LEVEL                         fatal | error | warn | info | debug | trace | silent [info]
//   DRIFTLINE_ENV                     production | local: production refuses local-only settings
//                                     and delivers only to https public hosts [local]
//   DESTINATION_ENCRYPTION_KEY, DELIVERY_*, META_GRAPH_API_*  the delivery service: listed with
//                                     defaults in delivery/delivery-config.ts
//   MONITORING_*, WEBHOOK_*           model monitoring (drift, labels, performance, alerts,
//                                     retraining, webhooks): listed with defaults in
//                                     monitoring/monitoring-config.ts

/**
 * Fetch settings the processor and `bench:stream` default to. Every partition being processed at
 * once (3 topics x 3 partitions) with batches of up to 8 MiB lets one transaction commit thousands
 * of records of a backlog together, which writes fewer window rows per record and pays one
 * commit. Fetches of 16 MiB rather than larger ones keep RSS lower and the event loop's stalls
 * shorter (kafkajs decodes a fetch response in one go) at the same throughput; the README's
 * "Sizing for throughput" has the numbers.
 */
export const STREAM_FETCH_DEFAULTS = {
  maxBytesPerPartition: 8 * 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  partitionsConcurrency: 9,
} as const;

const bool = envBool;
const int = envInt;
const csv = envList;

const CONSUMED_TOPICS = [
  "events",
  "capi",
  "predictions",
  "models",
] as const satisfies readonly TopicKey[];

const StreamEnv = z
  .object({
    DATABASE_URL: z
      .string({ error: "is required: postgres://user[:password]@host[:port]/database" })
      .regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// or postgresql:// URL"),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case identifier (letters, digits, _)")
      .optional(),
    NEON_WS_RELAY_URL: z
      .string()
      .regex(/^wss?:\/\/\S+$/, "must be a ws:// or wss:// URL")
      .optional(),
    DATABASE_POOL_MAX: int(8, 1, 100),
    KAFKA_BROKERS: csv("127.0.0.1:19092").pipe(
      z
        .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, "each broker must be host:port"))
        .min(1, "needs at least one host:port"),
    ),
    KAFKA_CLIENT_ID: z.string().min(1).default("driftline-stream-processor"),
    KAFKA_TOPIC_PREFIX: z.string().default(""),
    KAFKA_SSL: bool(false),
    KAFKA_SASL_MECHANISM: z.enum(["plain", "scram-sha-256", "scram-sha-512"]).optional(),
    KAFKA_SASL_USERNAME: z.string().min(1).optional(),
    KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
    STREAM_TOPICS: csv(CONSUMED_TOPICS.join(",")).pipe(
      z
        .array(z.enum(CONSUMED_TOPICS))
        .min(1, `needs at least one of ${CONSUMED_TOPICS.join(", ")}`),
    ),
    STREAM_ENSURE_TOPICS: bool(true),
    STREAM_TOPIC_PARTITIONS: int(3, 1, 1000),
    STREAM_CONSUMER_GROUP: z.string().min(1).max(255).default("driftline-stream-metrics"),
    STREAM_FROM_BEGINNING: bool(true),
    STREAM_SESSION_TIMEOUT_MS: int(30_000, 6_000),
    STREAM_HEARTBEAT_INTERVAL_MS: int(3_000, 100),
    STREAM_MAX_BYTES_PER_PARTITION: int(STREAM_FETCH_DEFAULTS.maxBytesPerPartition, 1024),
    STREAM_MAX_BYTES: int(STREAM_FETCH_DEFAULTS.maxBytes, 1024),
    STREAM_MAX_WAIT_MS: int(250, 0, 60_000),
    STREAM_PARTITIONS_CONCURRENCY: int(STREAM_FETCH_DEFAULTS.partitionsConcurrency, 1, 1000),
    STREAM_EVENT_VALIDATION: z.enum(["envelope", "full"]).default("envelope"),
    STREAM_ALLOWED_LATENESS_MS: int(120_000),
    STREAM_MAX_FUTURE_SKEW_MS: int(300_000),
    STREAM_RETRY_INITIAL_MS: int(250, 1),
    STREAM_RETRY_MAX_MS: int(30_000, 1),
    STREAM_DEDUP_RETENTION_HOURS: int(72, 1),
    STREAM_DEDUP_PURGE_INTERVAL_MS: int(600_000),
    STREAM_MAX_EVENT_NAMES_PER_TENANT: int(500, 1, 1_000_000),
    STREAM_MAX_CAMPAIGNS_PER_TENANT: int(2_000, 1, 1_000_000),
    STREAM_ANOMALY_ENABLED: bool(true),
    STREAM_ANOMALY_MAX_SERIES_PER_TENANT: int(1_000, 1, 100_000),
    STREAM_ANOMALY_MAX_MINUTES_PER_BATCH: int(10_080, 1, 1_000_000),
    STREAM_ANOMALY_CHECKPOINT_MINUTES: int(10, 1, 1_440),
    STREAM_ANOMALY_MAX_CACHED_SERIES: int(100_000, 0, 10_000_000),
    STREAM_ANOMALY_RETIRE_AFTER_HOURS: int(168, 1, 24 * 366),
    STREAM_ANOMALY_IDLE_CLOSE_MS: int(300_000, 0, 7 * 86_400_000),
    STREAM_ANOMALY_IDLE_MAX_LAG_MS: int(3_600_000, 0, 7 * 86_400_000),
    STREAM_ANOMALY_IDLE_CHECK_INTERVAL_MS: int(30_000, 100, 3_600_000),
    STREAM_ROLLUP_INTERVAL_MS: int(60_000),
    STREAM_LAG_POLL_INTERVAL_MS: int(10_000, 100),
    STREAM_SHUTDOWN_TIMEOUT_MS: int(30_000, 0),
    STREAM_API_HOST: z.string().min(1).default("127.0.0.1"),
    STREAM_API_PORT: int(8788, 0, 65_535),
    STREAM_API_READ_ROLES: csv("admin").pipe(
      z.array(z.enum(ROLES)).min(1, `needs at least one of ${ROLES.join(", ")}`),
    ),
    STREAM_API_KEY_CACHE_TTL_MS: int(30_000),
    STREAM_API_MAX_ROWS: int(10_000, 1, 1_000_000),
    STREAM_OPS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    STREAM_METRICS_TENANT_LABELS: envBool(false),
    LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
    ...deliveryEnvShape,
    RETENTION_METRIC_WINDOWS_DAYS: int(0, 0),
    RETENTION_DRIFT_DAYS: int(0, 0),
    RETENTION_ALERTS_DAYS: int(0, 0),
    RETENTION_RETRAINING_DAYS: int(0, 0),
    RETENTION_DELIVERIES_DAYS: int(0, 0),
    RETENTION_ANOMALIES_DAYS: int(0, 0),
    RETENTION_PURGE_INTERVAL_MS: int(3_600_000, 0),
    RETENTION_PURGE_BATCH_ROWS: int(5_000, 1, 1_000_000),
    RETENTION_PURGE_MAX_BATCHES: int(100, 1, 1_000_000),
    ...monitoringEnvShape,
  })
  .superRefine((env, ctx) => {
    if (!isLoopbackHost(env.STREAM_API_HOST) && env.STREAM_OPS_TOKEN === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["STREAM_OPS_TOKEN"],
        message: `is required when STREAM_API_HOST (${env.STREAM_API_HOST}) is not loopback: /metrics and /ready would otherwise be open to the network`,
      });
    }
    for (const [key, message] of monitoringEnvIssues(withMonitoringKeys(env))) {
      ctx.addIssue({ code: "custom", path: [key], message });
    }
    const sasl = [env.KAFKA_SASL_USERNAME, env.KAFKA_SASL_PASSWORD];
    if (env.KAFKA_SASL_MECHANISM !== undefined) {
      for (const [key, value] of [
        ["KAFKA_SASL_USERNAME", sasl[0]],
        ["KAFKA_SASL_PASSWORD", sasl[1]],
      ] as const) {
        if (value === undefined) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "is required with KAFKA_SASL_MECHANISM",
          });
        }
      }
    } else if (sasl.some((v) => v !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["KAFKA_SASL_MECHANISM"],
        message: "is required when KAFKA_SASL_USERNAME/PASSWORD are set",
      });
    }
    if (env.STREAM_RETRY_MAX_MS < env.STREAM_RETRY_INITIAL_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["STREAM_RETRY_MAX_MS"],
        message: "must be at least STREAM_RETRY_INITIAL_MS",
      });
    }
    if (env.STREAM_HEARTBEAT_INTERVAL_MS * 3 > env.STREAM_SESSION_TIMEOUT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["STREAM_HEARTBEAT_INTERVAL_MS"],
        message: "must be at most a third of STREAM_SESSION_TIMEOUT_MS",
      });
    }
  });

type StreamEnv = z.infer<typeof StreamEnv>;

/** The monitoring helpers type every MONITORING_* key as present (optional ones as undefined). */
function withMonitoringKeys<T extends { MONITORING_OPERATOR_WEBHOOK_SECRET?: string | undefined }>(
  env: T,
) {
  return { ...env, MONITORING_OPERATOR_WEBHOOK_SECRET: env.MONITORING_OPERATOR_WEBHOOK_SECRET };
}

export interface StreamConfig {
  /** Retention per data kind and the purge's schedule and batch size. */
  retention: RetentionPolicy & { intervalMs: number };
  database: {
    url: string;
    schema: string | undefined;
    wsRelayUrl: string | undefined;
    poolMax: number;
  };
  kafka: {
    brokers: string[];
    clientId: string;
    topicPrefix: string;
    ssl: boolean;
    sasl:
      | {
          mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
          username: string;
          password: string;
        }
      | undefined;
  };
  consumer: {
    /** Logical topics consumed (events, capi, predictions, models). */
    topics: readonly (typeof CONSUMED_TOPICS)[number][];
    ensureTopics: boolean;
    topicPartitions: number;
    groupId: string;
    fromBeginning: boolean;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    maxBytesPerPartition: number;
    maxBytes: number;
    maxWaitMs: number;
    partitionsConcurrency: number;
    lagPollIntervalMs: number;
  };
  pipeline: {
    eventValidation: "envelope" | "full";
    allowedLatenessMs: number;
    maxFutureSkewMs: number;
    retryInitialMs: number;
    retryMaxMs: number;
    dedupRetentionMs: number;
    dedupPurgeIntervalMs: number;
    rollupIntervalMs: number;
    /** Most distinct event names and campaigns per tenant in the windows; the rest is `(other)`. */
    dimensionCaps: { eventNames: number; campaigns: number };
  };
  api: {
    host: string;
    port: number;
    readRoles: readonly (typeof ROLES)[number][];
    keyCacheTtlMs: number;
    maxRows: number;
    /** Bearer token for /metrics and /ready; undefined: open (loopback only). */
    opsToken: string | undefined;
    /** Per-tenant drift gauges on /metrics. */
    tenantLabels: boolean;
  };
  monitoring: MonitoringConfig;
  anomaly: {
    enabled: boolean;
    maxSeriesPerTenant: number;
    maxMinutesPerBatch: number;
    checkpointMinutes: number;
    maxCachedSeries: number;
    retireAfterMs: number;
    /** A tenant whose newest event time stood still this long has its minutes closed by wall clock; 0 = never. */
    idleCloseMs: number;
    /** The wall-clock close applies only to tenants whose newest event was counted within this of its time. */
    idleMaxLagMs: number;
    /** How often silent tenants are looked for, ms. */
    idleCheckIntervalMs: number;
  };
  /** The delivery service (stream-processor/delivery-main.ts): forwarding to destinations. */
  delivery: DeliveryConfig;
  /** DRIFTLINE_ENV=production: tenant webhooks go only to https public hosts. */
  production: boolean;
  /** Deprecated variable names that were set (their values were taken); for a warning at start. */
  deprecatedNames: { name: string; replacedBy: string }[];
  shutdownTimeoutMs: number;
  logLevel: StreamEnv["LOG_LEVEL"];
}

/**
 * Parses `env` once. Throws a ConfigError listing every bad key with what is wrong (never a
 * secret's value), so a misconfigured deployment fails at start, not on the first batch.
 */
export function loadStreamConfig(
  env: Record<string, string | undefined> = process.env,
): StreamConfig {
  // Empty strings mean "unset", as in most .env tooling.
  const aliased = applyDeprecatedAliases(
    Object.fromEntries(
      Object.entries(env).filter(
        (kv): kv is [string, string] => kv[1] !== undefined && kv[1] !== "",
      ),
    ),
  );
  const cleaned = aliased.env;
  const e = parseEnv(StreamEnv, cleaned, {
    heading: "Invalid stream processor environment:",
    rootLabel: "(environment)",
    crossKeyProblems: [
      ...aliased.problems,
      ...productionProblems(cleaned, [
        requireTrue("KAFKA_SSL", "the brokers must be reached over TLS"),
        requireSet("KAFKA_SASL_MECHANISM", "the brokers must authenticate the processor"),
        forbidSet("NEON_WS_RELAY_URL", "the relay is for a local Postgres; Neon relays itself"),
        forbidLocalDefault("WEBHOOK_ENCRYPTION_KEY", LOCAL_WEBHOOK_ENCRYPTION_KEY),
      ]),
    ],
  });
  return {
    database: {
      url: e.DATABASE_URL,
      schema: e.DATABASE_SCHEMA,
      wsRelayUrl: e.NEON_WS_RELAY_URL,
      poolMax: e.DATABASE_POOL_MAX,
    },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      topicPrefix: e.KAFKA_TOPIC_PREFIX,
      ssl: e.KAFKA_SSL,
      sasl:
        e.KAFKA_SASL_MECHANISM === undefined
          ? undefined
          : {
              mechanism: e.KAFKA_SASL_MECHANISM,
              username: e.KAFKA_SASL_USERNAME ?? "",
              password: e.KAFKA_SASL_PASSWORD ?? "",
            },
    },
    retention: {
      metricWindowsDays: e.RETENTION_METRIC_WINDOWS_DAYS,
      driftDays: e.RETENTION_DRIFT_DAYS,
      alertsDays: e.RETENTION_ALERTS_DAYS,
      retrainingDays: e.RETENTION_RETRAINING_DAYS,
      deliveriesDays: e.RETENTION_DELIVERIES_DAYS,
      anomaliesDays: e.RETENTION_ANOMALIES_DAYS,
      batchRows: e.RETENTION_PURGE_BATCH_ROWS,
      maxBatchesPerRun: e.RETENTION_PURGE_MAX_BATCHES,
      intervalMs: e.RETENTION_PURGE_INTERVAL_MS,
    },
    consumer: {
      topics: [...new Set(e.STREAM_TOPICS)],
      ensureTopics: e.STREAM_ENSURE_TOPICS,
      topicPartitions: e.STREAM_TOPIC_PARTITIONS,
      groupId: e.STREAM_CONSUMER_GROUP,
      fromBeginning: e.STREAM_FROM_BEGINNING,
      sessionTimeoutMs: e.STREAM_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: e.STREAM_HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: e.STREAM_MAX_BYTES_PER_PARTITION,
      maxBytes: e.STREAM_MAX_BYTES,
      maxWaitMs: e.STREAM_MAX_WAIT_MS,
      partitionsConcurrency: e.STREAM_PARTITIONS_CONCURRENCY,
      lagPollIntervalMs: e.STREAM_LAG_POLL_INTERVAL_MS,
    },
    pipeline: {
      eventValidation: e.STREAM_EVENT_VALIDATION,
      allowedLatenessMs: e.STREAM_ALLOWED_LATENESS_MS,
      maxFutureSkewMs: e.STREAM_MAX_FUTURE_SKEW_MS,
      retryInitialMs: e.STREAM_RETRY_INITIAL_MS,
      retryMaxMs: e.STREAM_RETRY_MAX_MS,
      dedupRetentionMs: e.STREAM_DEDUP_RETENTION_HOURS * 3_600_000,
      dedupPurgeIntervalMs: e.STREAM_DEDUP_PURGE_INTERVAL_MS,
      rollupIntervalMs: e.STREAM_ROLLUP_INTERVAL_MS,
      dimensionCaps: {
        eventNames: e.STREAM_MAX_EVENT_NAMES_PER_TENANT,
        campaigns: e.STREAM_MAX_CAMPAIGNS_PER_TENANT,
      },
    },
    api: {
      host: e.STREAM_API_HOST,
      port: e.STREAM_API_PORT,
      readRoles: [...new Set(e.STREAM_API_READ_ROLES)],
      keyCacheTtlMs: e.STREAM_API_KEY_CACHE_TTL_MS,
      maxRows: e.STREAM_API_MAX_ROWS,
      opsToken: e.STREAM_OPS_TOKEN,
      tenantLabels: e.STREAM_METRICS_TENANT_LABELS,
    },
    monitoring: monitoringConfigFrom(withMonitoringKeys(e)),
    anomaly: {
      enabled: e.STREAM_ANOMALY_ENABLED,
      maxSeriesPerTenant: e.STREAM_ANOMALY_MAX_SERIES_PER_TENANT,
      maxMinutesPerBatch: e.STREAM_ANOMALY_MAX_MINUTES_PER_BATCH,
      checkpointMinutes: e.STREAM_ANOMALY_CHECKPOINT_MINUTES,
      maxCachedSeries: e.STREAM_ANOMALY_MAX_CACHED_SERIES,
      retireAfterMs: e.STREAM_ANOMALY_RETIRE_AFTER_HOURS * 3_600_000,
      idleCloseMs: e.STREAM_ANOMALY_IDLE_CLOSE_MS,
      idleMaxLagMs: e.STREAM_ANOMALY_IDLE_MAX_LAG_MS,
      idleCheckIntervalMs: e.STREAM_ANOMALY_IDLE_CHECK_INTERVAL_MS,
    },
    delivery: deliveryConfigFrom(e, e.STREAM_CONSUMER_GROUP),
    production: isProduction(cleaned),
    deprecatedNames: aliased.used,
    shutdownTimeoutMs: e.STREAM_SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}
