/** The Worker's bindings and vars, checked once per isolate by one zod schema. */
import { z } from "zod";
import {
  envInt,
  forbidLocalDefault,
  forbidSet,
  parseEnv,
  productionProblems,
  requireHttps,
  requireSet,
} from "#core/config";
import { LOCAL_DESTINATION_ENCRYPTION_KEY } from "#core/destinations";
import {
  DEFAULT_URL_QUERY_ALLOWLIST_TEXT,
  parseUrlQueryAllowlist,
  type UrlQueryAllowlist,
  urlQueryAllowlistProblems,
} from "#core/events";
import { LOCAL_ENTITY_ID_KEY } from "#core/privacy";
import { LOCAL_WEBHOOK_ENCRYPTION_KEY } from "#core/webhooks";

const binding = <T>(name: string, method: string) =>
  z.custom<T>(
    (value) =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as Record<string, unknown>)[method] === "function",
    { message: `binding ${name} is missing (declare it in wrangler.toml)` },
  );

const url = z.url({ message: "must be an absolute http(s) URL" });

/** A whole number from a var (wrangler passes TOML numbers as numbers, --var values as strings). */
const int = (min: number, max: number, fallback: number) => envInt(fallback, min, max);

/** The local Upstash REST server's default token; production must use its own. */
const LOCAL_UPSTASH_TOKEN = "driftline-local-token";

/** The entity-id key of local runs (shared with `npm run erase`); production sets its own secret. */
export { LOCAL_ENTITY_ID_KEY };

export const WorkerEnvSchema = z.object({
  /** R2 bucket with model bytes and manifests. */
  MODELS: binding<R2Bucket>("MODELS", "get"),
  /** Cloudflare Queue buffering everything bound for Kafka. */
  INGEST_QUEUE: binding<Queue>("INGEST_QUEUE", "send"),
  /**
   * The ingest queue's dead-letter queue, which the Worker also consumes (by this name) and
   * sends to: bundles that still fail there go back on it instead of being dropped.
   */
  INGEST_DLQ: binding<Queue>("INGEST_DLQ", "send").optional(),
  INGEST_DLQ_NAME: z.string().min(1).default("driftline-ingest-dlq"),
  /**
   * R2 bucket where the dead-letter consumer parks bundles that still fail after
   * INGEST_DLQ_PARK_AFTER_ATTEMPTS deliveries; without it they circle the dead-letter queue.
   */
  DEAD_LETTERS: binding<R2Bucket>("DEAD_LETTERS", "put").optional(),
  INGEST_DLQ_PARK_AFTER_ATTEMPTS: int(12, 10_000, 60),
  /**
   * R2 bucket holding bulk scoring jobs' rows and results (chunk objects); without it, and
   * without SCORE_JOBS_QUEUE, /v1/score/jobs answers 503.
   */
  JOBS: binding<R2Bucket>("JOBS", "put").optional(),
  /** Cloudflare Queue of bulk scoring jobs' chunks (one message per chunk), consumed by this Worker. */
  SCORE_JOBS_QUEUE: binding<Queue>("SCORE_JOBS_QUEUE", "sendBatch").optional(),
  /** The name of that queue, so the queue handler tells its batches from the ingest queue's. */
  SCORE_JOBS_QUEUE_NAME: z.string().min(1).default("driftline-score-jobs"),
  /** Most rows one bulk scoring job may hold (413 above). */
  SCORE_JOB_MAX_ROWS: int(1, 10_000_000, 1_000_000),
  /** Rows per chunk of a bulk scoring job: each chunk is one R2 object and one queue message. */
  SCORE_JOB_CHUNK_ROWS: int(100, 50_000, 10_000),
  /**
   * Deliveries of a chunk before it is counted failed (its rows carry the reason): the score-jobs
   * queue's max_retries + 1.
   */
  SCORE_JOB_MAX_ATTEMPTS: int(1, 100, 6),
  /**
   * Days a finished bulk scoring job (its rows and R2 objects) is kept after it finished; the
   * Worker's cron trigger removes older ones. 0 keeps them forever.
   */
  SCORE_JOB_RETENTION_DAYS: int(0, 36_500, 30),
  UPSTASH_REDIS_REST_URL: url,
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1, "set it with `wrangler secret put` or .dev.vars"),
  /** Kafka REST Proxy v3 base URL (Confluent Cloud, or Driftline's gateway locally). */
  KAFKA_REST_URL: url,
  KAFKA_REST_CLUSTER_ID: z.string().min(1).default("driftline"),
  KAFKA_REST_API_KEY: z.string().optional(),
  KAFKA_REST_API_SECRET: z.string().optional(),
  /**
   * How the queue consumer sends several records per request: `auto` learns it once per isolate
   * (`records:batch`, else streaming mode, else one by one); `batch`, `stream` or `single` pin it.
   * Confluent Cloud documents streaming mode: `stream` spares it the probe.
   */
  KAFKA_REST_PRODUCE_MODE: z.enum(["auto", "batch", "stream", "single"]).default("auto"),
  KAFKA_TOPIC_PREFIX: z.string().default(""),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** How long an isolate trusts a looked-up API key; a revoked key works at most this long. */
  API_KEY_CACHE_TTL_MS: int(0, 300_000, 10_000),
  /** Invalid or missing keys a client address may send per minute before it is refused unlooked. */
  AUTH_FAILURES_PER_MINUTE: int(1, 100_000, 100),
  /**
   * Secret that keys entity ids (HMAC-SHA-256) before predictions leave the edge. Set it with
   * `wrangler secret put ENTITY_ID_KEY` in production; the default only suits local runs.
   */
  ENTITY_ID_KEY: z.string().min(16, "must be at least 16 characters").default(LOCAL_ENTITY_ID_KEY),
  /**
   * Requests per API key per window (sliding window, @upstash/ratelimit) for keys without a limit
   * of their own and without the `ingest` role.
   */
  RATE_LIMIT_REQUESTS: int(1, 100_000_000, 1_000),
  /**
   * The same for keys with the `ingest` role: a website sends one event per request, so a busy
   * one makes thousands of requests a minute. Default 100,000 per window (~1,700/s per minute).
   */
  RATE_LIMIT_INGEST_REQUESTS: int(1, 100_000_000, 100_000),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400, 60),
  /**
   * Events (every event of an ingest request, valid or not) and scored rows per API key per
   * window: a request carries up to 1000, so counting requests alone lets a key send 1000 times
   * more. Default 1,000,000 per minute, above what the ingest request limit admits one by one.
   */
  RATE_LIMIT_EVENTS: int(1, 1_000_000_000, 1_000_000),
  /** Bytes of event request bodies per API key per window. Default 100 MiB per minute. */
  RATE_LIMIT_BYTES: int(1_024, 1_000_000_000_000, 100 * 1024 * 1024),
  /** How long an isolate caches a model's active-version pointer: promotions spread within this. */
  ACTIVE_MODEL_CACHE_TTL_MS: int(0, 10_000, 5_000),
  /** How long an isolate caches a tenant's allowed CORS origins. */
  TENANT_ORIGINS_CACHE_TTL_MS: int(0, 300_000, 30_000),
  /**
   * Top reasons (largest Shapley contributions) each logged prediction carries, for the console;
   * 0 logs none. Rows of linear and tree models are explained for the log after the response.
   */
  PREDICTION_LOG_REASONS: int(0, 20, 0),
  /** Largest accepted .onnx upload. */
  MODEL_UPLOAD_MAX_BYTES: int(1, 100 * 1024 * 1024, 32 * 1024 * 1024),
  /** Model versions kept loaded (ORT sessions) per isolate; least recently used are released. */
  MODEL_CACHE_SIZE: int(1, 256, 16),
  /** ONNX bytes kept loaded per isolate (Workers give an isolate 128 MB in all). */
  MODEL_CACHE_MAX_BYTES: int(1 << 20, 1 << 30, 48 * 1024 * 1024),
  /** Largest event request body (POST /v1/events, /v1/capi/…), bytes; 413 above. Default 5 MiB. */
  INGEST_MAX_BODY_BYTES: int(1_024, 100 * 1024 * 1024, 5 * 1024 * 1024),
  /**
   * Query parameters kept in an event's event_source_url and referrer_url, comma-separated:
   * names, or `prefix*` for every name starting with prefix. Every other parameter and the
   * fragment are dropped before the event is queued. Empty keeps none (and then no utm values or
   * click ids are read from URLs). Default: utm_* and the click ids Driftline reads.
   */
  EVENT_URL_QUERY_ALLOWLIST: z
    .string()
    .default(DEFAULT_URL_QUERY_ALLOWLIST_TEXT)
    .superRefine((text, ctx) => {
      for (const message of urlQueryAllowlistProblems(text))
        ctx.addIssue({ code: "custom", message });
    })
    .transform((text): UrlQueryAllowlist => parseUrlQueryAllowlist(text)),
  /** How long an event id is remembered for deduplication, seconds. Default 48 h (Meta's window). */
  EVENT_DEDUP_TTL_SECONDS: int(60, 30 * 86_400, 48 * 3_600),
  /**
   * Postgres the stream processor writes (a secret: `wrangler secret put DATABASE_URL`). The read
   * API (/v1/metrics, drift, performance, alerts, retraining requests) answers 503 without it.
   */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  /**
   * Local stack only: `ws://host:port` of the WebSocket-to-TCP relay in front of a plain
   * Postgres. Unset on Cloudflare, where the driver reaches Neon's endpoint over wss itself.
   */
  NEON_WS_RELAY_URL: z
    .string()
    .regex(/^wss?:\/\/[^/]/, "must be a ws:// or wss:// URL")
    .optional(),
  /** The stream processor's STREAM_ALLOWED_LATENESS_MS, so /v1/metrics draws the same watermark. */
  METRICS_ALLOWED_LATENESS_MS: int(0, 86_400_000, 120_000),
  /** Most windows one /v1/metrics answer may hold (400 above, asking for a narrower query). */
  METRICS_MAX_ROWS: int(1, 1_000_000, 10_000),
  /**
   * Signs the console's session cookies (HMAC-SHA-256); at least 32 characters, a secret
   * (`wrangler secret put CONSOLE_SESSION_SECRET`). Required on any host but 127.0.0.1/localhost,
   * where a random per-isolate key stands in (sessions then end with the isolate).
   */
  CONSOLE_SESSION_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  /** How long a console sign-in lasts, ms. Default 8 h. */
  CONSOLE_SESSION_TTL_MS: int(60_000, 7 * 86_400_000, 8 * 3_600_000),
  /**
   * `production` or `local` (default). Production refuses local-only settings (see
   * parseWorkerEnv) and holds webhook URLs to https and public hosts; local runs also accept
   * http and loopback receivers.
   */
  DRIFTLINE_ENV: z.string().optional(),
  /**
   * Base64 of 32 random bytes: the AES-256-GCM key sealing webhook endpoint secrets in Postgres
   * (`wrangler secret put WEBHOOK_ENCRYPTION_KEY`; the stream processor needs the same value).
   * The default is the public development key, refused in production.
   */
  WEBHOOK_ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, "must be the base64 of 32 random bytes (44 characters)")
    .default(LOCAL_WEBHOOK_ENCRYPTION_KEY),
  /**
   * Base64 of 32 random bytes: the AES-256-GCM key sealing destination access tokens in Postgres
   * (`wrangler secret put DESTINATION_ENCRYPTION_KEY`; the delivery service needs the same value).
   * The default is the public development key, refused in production.
   */
  DESTINATION_ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, "must be the base64 of 32 random bytes (44 characters)")
    .default(LOCAL_DESTINATION_ENCRYPTION_KEY),
  /** Live webhook endpoints one tenant may have (409 above). */
  WEBHOOK_MAX_ENDPOINTS_PER_TENANT: int(1, 1_000, 20),
  /** How long POST /v1/webhooks/{id}/test waits for the receiver, ms. */
  WEBHOOK_TEST_TIMEOUT_MS: int(100, 30_000, 5_000),
  /**
   * DNS-over-HTTPS JSON endpoint (`application/dns-json`) that POST /v1/webhooks/{id}/test
   * resolves an endpoint's hostname through, to check its addresses before sending. Default in
   * production: Cloudflare's (DEFAULT_WEBHOOK_DNS_RESOLVER_URL); elsewhere unset, hostnames are
   * not resolved before a test send (local runs have loopback receivers and maybe no DNS).
   */
  WEBHOOK_DNS_RESOLVER_URL: url.optional(),
});

/** Where production Workers resolve webhook hostnames unless WEBHOOK_DNS_RESOLVER_URL says. */
export const DEFAULT_WEBHOOK_DNS_RESOLVER_URL = "https://cloudflare-dns.com/dns-query";

export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;

/** Parses the raw `env` handed to the Worker; the error names every missing or bad key. */
export function parseWorkerEnv(raw: unknown): WorkerEnv {
  const env = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  return parseEnv(WorkerEnvSchema, raw, {
    heading: "Worker configuration is invalid:",
    layout: "inline",
    crossKeyProblems: productionProblems(env, [
      requireHttps("UPSTASH_REDIS_REST_URL"),
      forbidLocalDefault("UPSTASH_REDIS_REST_TOKEN", LOCAL_UPSTASH_TOKEN),
      requireHttps("KAFKA_REST_URL"),
      requireSet("KAFKA_REST_API_KEY", "the Kafka REST Proxy must authenticate the Worker"),
      requireSet("KAFKA_REST_API_SECRET", "the Kafka REST Proxy must authenticate the Worker"),
      forbidLocalDefault("ENTITY_ID_KEY", LOCAL_ENTITY_ID_KEY),
      forbidSet("NEON_WS_RELAY_URL", "the relay is for a local Postgres; Neon relays itself"),
      forbidLocalDefault("WEBHOOK_ENCRYPTION_KEY", LOCAL_WEBHOOK_ENCRYPTION_KEY),
      forbidLocalDefault("DESTINATION_ENCRYPTION_KEY", LOCAL_DESTINATION_ENCRYPTION_KEY),
      {
        key: "WEBHOOK_DNS_RESOLVER_URL",
        problem: (v) =>
          v !== undefined && !v.toLowerCase().startsWith("https://")
            ? "must be an https:// URL: the answers decide where signed test deliveries go"
            : undefined,
      },
    ]),
  });
}
