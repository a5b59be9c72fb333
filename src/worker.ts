/** The Worker entry: checks the environment once, builds adapters, serves HTTP, the queues and the cron trigger. */

import { isProduction } from "#core/config";
import { MAX_DESTINATIONS_PER_TENANT } from "#core/destinations";
import { ConfigError, errorBody } from "#core/errors";
import { DEFAULT_MONITORING_SETTINGS } from "#core/monitoring";
import { createApp } from "./app";
import { auditServices } from "./audit/audit-services";
import { InMemoryAuthFailureLimiter } from "./auth/auth-failure-limiter";
import { CoalescedFlushes } from "./auth/coalesced-flushes";
import { ConsoleSessions } from "./auth/console-sessions";
import { UpstashApiKeyStore } from "./auth/upstash-api-key-store";
import { UpstashRateLimiter } from "./auth/upstash-rate-limiter";
import { UpstashTenantOriginStore } from "./auth/upstash-tenant-origin-store";
import { bundledConsoleAssets } from "./console/bundled-console-assets";
import { destinationServices } from "./destinations/destination-services";
import { DEFAULT_WEBHOOK_DNS_RESOLVER_URL, parseWorkerEnv, type WorkerEnv } from "./env";
import { BindingReadiness } from "./health/binding-readiness";
import { QueueEventSink } from "./ingest/queue-event-sink";
import { UpstashDedupStore } from "./ingest/upstash-dedup-store";
import { UpstashRejectionLog } from "./ingest/upstash-rejection-log";
import { UpstashTenantForwarding } from "./ingest/upstash-tenant-forwarding";
import type { ProduceRoute } from "./kafka-rest/kafka-rest-client";
import { KafkaRestRecordSink } from "./kafka-rest/kafka-rest-record-sink";
import { UpstashKeyAdminStore } from "./keys/upstash-key-admin-store";
import { bundledModels } from "./model-registry/bundled-models";
import { ModelRegistry } from "./model-registry/model-registry";
import { QueueModelChangeLog } from "./model-registry/queue-model-change-log";
import { R2ModelStore } from "./model-registry/r2-model-store";
import { UpstashModelPointerStore } from "./model-registry/upstash-model-pointer-store";
import { createLogger, type Logger } from "./observability/logger";
import { personErasureServices } from "./privacy/person-erasure-services";
import { consumeIngestBatch } from "./queue/consume-ingest-batch";
import { expandModelNotice } from "./queue/expand-model-notice";
import type { IngestMessage } from "./queue/ingest-message";
import type { IngestQueueBody } from "./queue/ingest-queue-body";
import { R2DeadLetterParking } from "./queue/r2-dead-letter-parking";
import { readStoreSource } from "./read-api/read-store-source";
import { consumeScoreJobBatch } from "./score-jobs/consume-score-job-batch";
import { purgeExpiredScoreJobs } from "./score-jobs/purge-expired-score-jobs";
import { scoreJobServices } from "./score-jobs/score-job-services";
import { HmacEntityIdKeyer } from "./scoring/hmac-entity-id-keyer";
import { OnnxModelRuntime } from "./scoring/onnx-model-runtime";
import { onnxRuntime } from "./scoring/onnx-runtime";
import { QueuePredictionLog } from "./scoring/queue-prediction-log";
import type { Services } from "./services";
import { upstashClient } from "./upstash/upstash-client";
import { webhookServices } from "./webhooks/webhook-store-source";

let cachedEnv: { raw: unknown; parsed: WorkerEnv } | undefined;

function workerEnv(raw: unknown): WorkerEnv {
  if (cachedEnv !== undefined && cachedEnv.raw === raw) return cachedEnv.parsed;
  const parsed = parseWorkerEnv(raw);
  cachedEnv = { raw, parsed };
  return parsed;
}

/**
 * The adapters behind every port. Built once per isolate (see `isolateServices`): the caches in
 * them (API keys, pointers, loaded ORT sessions, blocked keys) live as long as the isolate.
 */
export function buildServices(env: WorkerEnv): Services {
  const redis = upstashClient(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN);
  const log = workerLogger(env.LOG_LEVEL);
  // The three budgets send their counts in one Redis request per round (250 ms).
  const flushes = new CoalescedFlushes(250);
  const apiKeys = new UpstashApiKeyStore(redis, env.API_KEY_CACHE_TTL_MS, Date.now, {}, log);
  return {
    readiness: new BindingReadiness(env.MODELS, redis),
    apiKeys,
    keyAdmin: new UpstashKeyAdminStore(redis, (keyHash) => apiKeys.forget(keyHash)),
    authFailures: new InMemoryAuthFailureLimiter({ maxFailures: env.AUTH_FAILURES_PER_MINUTE }),
    rateLimiter: new UpstashRateLimiter(redis, {
      limit: env.RATE_LIMIT_REQUESTS,
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      flushes,
      log,
    }),
    requestLimits: {
      requests: env.RATE_LIMIT_REQUESTS,
      ingestRequests: env.RATE_LIMIT_INGEST_REQUESTS,
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
    },
    budgets: {
      events: new UpstashRateLimiter(redis, {
        limit: env.RATE_LIMIT_EVENTS,
        windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
        prefix: "ratelimit:events",
        flushes,
        log,
      }),
      bytes: new UpstashRateLimiter(redis, {
        limit: env.RATE_LIMIT_BYTES,
        windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
        prefix: "ratelimit:bytes",
        flushes,
        log,
      }),
    },
    tenantOrigins: new UpstashTenantOriginStore(redis, env.TENANT_ORIGINS_CACHE_TTL_MS),
    models: new ModelRegistry({
      store: new R2ModelStore(env.MODELS),
      pointers: new UpstashModelPointerStore(redis, env.ACTIVE_MODEL_CACHE_TTL_MS),
      runtime: new OnnxModelRuntime(onnxRuntime),
      bundled: bundledModels(),
      maxLoadedVersions: env.MODEL_CACHE_SIZE,
      maxLoadedBytes: env.MODEL_CACHE_MAX_BYTES,
      maxModelBytes: env.MODEL_UPLOAD_MAX_BYTES,
      changes: new QueueModelChangeLog(env.INGEST_QUEUE as Queue<IngestMessage>),
    }),
    entityIds: new HmacEntityIdKeyer(env.ENTITY_ID_KEY),
    predictionLogReasons: env.PREDICTION_LOG_REASONS,
    // Rows of requests arriving within 100 ms share one queue call (a queue send costs the
    // isolate far more than a row); the response never waits.
    predictionLog: new QueuePredictionLog(env.INGEST_QUEUE as Queue<IngestMessage>, {
      lingerMs: 100,
    }),
    ingest: {
      dedup: new UpstashDedupStore(redis, env.EVENT_DEDUP_TTL_SECONDS),
      rejections: new UpstashRejectionLog(redis),
      sink: new QueueEventSink(env.INGEST_QUEUE as Queue<IngestMessage>),
      forwarding: new UpstashTenantForwarding(redis, env.TENANT_ORIGINS_CACHE_TTL_MS),
      maxBodyBytes: env.INGEST_MAX_BODY_BYTES,
      urlQueryAllowlist: env.EVENT_URL_QUERY_ALLOWLIST,
    },
    reads: readStoreSource({
      databaseUrl: env.DATABASE_URL,
      wsRelayUrl: env.NEON_WS_RELAY_URL,
      allowedLatenessMs: env.METRICS_ALLOWED_LATENESS_MS,
      metricsMaxRows: env.METRICS_MAX_ROWS,
      defaultAttributionWindowMs: DEFAULT_MONITORING_SETTINGS.labels.attributionWindowMs,
    }),
    webhooks: webhookServices({
      databaseUrl: env.DATABASE_URL,
      wsRelayUrl: env.NEON_WS_RELAY_URL,
      encryptionKey: env.WEBHOOK_ENCRYPTION_KEY,
      maxEndpointsPerTenant: env.WEBHOOK_MAX_ENDPOINTS_PER_TENANT,
      testTimeoutMs: env.WEBHOOK_TEST_TIMEOUT_MS,
      allowLocalUrls: !isProduction(env),
      dnsResolverUrl:
        env.WEBHOOK_DNS_RESOLVER_URL ??
        (isProduction(env) ? DEFAULT_WEBHOOK_DNS_RESOLVER_URL : undefined),
    }),
    destinations: destinationServices({
      databaseUrl: env.DATABASE_URL,
      wsRelayUrl: env.NEON_WS_RELAY_URL,
      encryptionKey: env.DESTINATION_ENCRYPTION_KEY,
      maxPerTenant: MAX_DESTINATIONS_PER_TENANT,
    }),
    scoreJobs: scoreJobServices({
      databaseUrl: env.DATABASE_URL,
      wsRelayUrl: env.NEON_WS_RELAY_URL,
      bucket: env.JOBS,
      queue: env.SCORE_JOBS_QUEUE,
      maxRows: env.SCORE_JOB_MAX_ROWS,
      chunkRows: env.SCORE_JOB_CHUNK_ROWS,
    }),
    audit: auditServices({ databaseUrl: env.DATABASE_URL, wsRelayUrl: env.NEON_WS_RELAY_URL }),
    erasures: personErasureServices({
      databaseUrl: env.DATABASE_URL,
      wsRelayUrl: env.NEON_WS_RELAY_URL,
      deadLetters: env.DEAD_LETTERS,
    }),
    now: () => new Date(),
    random: Math.random,
    sessions: new ConsoleSessions({
      secret: env.CONSOLE_SESSION_SECRET,
      ttlMs: env.CONSOLE_SESSION_TTL_MS,
    }),
    consoleAssets: bundledConsoleAssets,
    log,
  };
}

const loggers = new Map<string, Logger>();

/** One logger per level per isolate. */
function workerLogger(level: WorkerEnv["LOG_LEVEL"]): Logger {
  let logger = loggers.get(level);
  if (logger === undefined) {
    logger = createLogger(level);
    loggers.set(level, logger);
  }
  return logger;
}

let cachedServices: { env: WorkerEnv; services: Services } | undefined;

/** workerd hands every request of an isolate the same `env`, so this builds once per isolate. */
function isolateServices(env: WorkerEnv): Services {
  if (cachedServices?.env !== env) cachedServices = { env, services: buildServices(env) };
  return cachedServices.services;
}

/**
 * Longest backoff when the dead-letter queue is read again: an hour, so a Kafka outage of days
 * costs a few dozen deliveries per bundle (Cloudflare allows up to 12 h).
 */
const REDRIVE_MAX_RETRY_DELAY_SECONDS = 3_600;

/** What the queue consumer's Kafka REST clients learned about the server (auto mode), per isolate. */
const learnedKafkaRestRoutes = new Map<string, ProduceRoute>();

const app = createApp(({ env }) => isolateServices(workerEnv(env)));

// Workers require the handler object as the module's default export.
export default {
  async fetch(request, env, ctx) {
    try {
      workerEnv(env);
    } catch (err) {
      if (err instanceof ConfigError) {
        // LOG_LEVEL itself may be what is wrong: configuration errors are always written.
        workerLogger("error").error(err.message);
        return Response.json(errorBody("CONFIG", err.message, crypto.randomUUID()), {
          status: 500,
        });
      }
      throw err;
    }
    return app.fetch(request, env, ctx);
  },

  async queue(batch, env) {
    const config = workerEnv(env);
    const logger = workerLogger(config.LOG_LEVEL);
    const log = logger.entry;
    if (batch.queue === config.SCORE_JOBS_QUEUE_NAME) {
      // Bulk scoring jobs: the isolate's services, so loaded model versions are shared with /v1/score.
      const services = isolateServices(config);
      const startedMs = Date.now();
      const result = await consumeScoreJobBatch(batch.messages, {
        jobs: services.scoreJobs,
        models: services.models,
        maxAttempts: config.SCORE_JOB_MAX_ATTEMPTS,
        log,
      });
      logger.info("score job batch", {
        queue: batch.queue,
        ...result,
        elapsedMs: Date.now() - startedMs,
      });
      return;
    }
    const sink = new KafkaRestRecordSink({
      baseUrl: config.KAFKA_REST_URL,
      clusterId: config.KAFKA_REST_CLUSTER_ID,
      apiKey: config.KAFKA_REST_API_KEY,
      apiSecret: config.KAFKA_REST_API_SECRET,
      produceMode: config.KAFKA_REST_PRODUCE_MODE,
      learnedRoutes: learnedKafkaRestRoutes,
    });
    // The dead-letter queue is consumed too: bundles that failed max_retries times (Kafka or its
    // REST Proxy down for longer than the backoff lasts) are produced once Kafka takes them, and
    // what still fails goes back on the dead-letter queue rather than being dropped.
    const redrive = batch.queue === config.INGEST_DLQ_NAME;
    if (redrive && config.INGEST_DLQ === undefined) {
      log({
        level: "error",
        msg: "INGEST_DLQ binding missing: dead-lettered bundles that still fail are retried in place and dropped after max_retries",
        queue: batch.queue,
      });
    }
    const queue = (redrive ? config.INGEST_DLQ : config.INGEST_QUEUE) as
      | Queue<IngestQueueBody>
      | undefined;
    const result = await consumeIngestBatch(batch.messages, {
      sink,
      topicPrefix: config.KAFKA_TOPIC_PREFIX,
      log,
      // The unproduced rest of a partly produced bundle goes back on the queue it came from.
      requeue:
        queue === undefined
          ? undefined
          : {
              requeue: (bundleText, { delaySeconds }) =>
                queue.send(bundleText, { contentType: "text", delaySeconds }),
            },
      ...(redrive
        ? {
            keepFailures: true,
            maxRetryDelaySeconds: REDRIVE_MAX_RETRY_DELAY_SECONDS,
            parking:
              config.DEAD_LETTERS === undefined
                ? undefined
                : new R2DeadLetterParking(config.DEAD_LETTERS),
            parkAfterAttempts: config.INGEST_DLQ_PARK_AFTER_ATTEMPTS,
          }
        : {}),
      // Registry notices are produced with the manifest, read from R2 here.
      expanders: { models: expandModelNotice({ reader: new R2ModelStore(config.MODELS), log }) },
    });
    logger.info("ingest batch", { queue: batch.queue, ...result });
  },

  // The cron trigger ([triggers] crons in wrangler.toml): bulk scoring jobs past their retention.
  async scheduled(controller, env) {
    const config = workerEnv(env);
    const logger = workerLogger(config.LOG_LEVEL);
    if (config.SCORE_JOB_RETENTION_DAYS === 0) return;
    const startedMs = Date.now();
    try {
      const result = await purgeExpiredScoreJobs({
        jobs: isolateServices(config).scoreJobs,
        retentionDays: config.SCORE_JOB_RETENTION_DAYS,
        nowMs: controller.scheduledTime,
        log: logger.entry,
      });
      logger.info("purged score jobs past their retention", {
        cron: controller.cron,
        ...result,
        elapsedMs: Date.now() - startedMs,
      });
    } catch (error) {
      // The next run finds what this one left (a job's row goes only after its objects).
      logger.warn("score job retention run failed; retried at the next run", {
        cron: controller.cron,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  },
} satisfies ExportedHandler<unknown>;
