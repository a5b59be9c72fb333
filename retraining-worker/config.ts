/** The retraining worker's settings: every environment variable it reads, parsed once by one zod schema. */
import { z } from "zod";
import { envBool, envInt, envList, envOptional, parseEnv } from "#core/config";

// Environment variables (default in brackets). docs/retraining.md copies this block.
//
//   DATABASE_URL                    postgres://user[:password]@host[:port]/db (required)
//   DATABASE_SCHEMA                 schema to use via search_path [the database's default]
//   NEON_WS_RELAY_URL               ws://host:port of the local Neon WebSocket relay; unset for Neon [unset]
//   KAFKA_BROKERS                   comma-separated host:port list [127.0.0.1:19092]
//   KAFKA_TOPIC_PREFIX              prefix of every topic name [""]
//   RETRAIN_CONSUMER_GROUP          consumer group of `retrain-requests`; key of the stored offsets [driftline-retraining]
//   RETRAIN_SESSION_TIMEOUT_MS      consumer group session timeout [30000]
//   RETRAIN_HEARTBEAT_INTERVAL_MS   consumer heartbeat interval [3000]
//   DRIFTLINE_WORKER_URL            the edge Worker's base URL: uploads and promotions go through its
//                                   admin API [http://127.0.0.1:8787]
//   UPSTASH_REDIS_REST_URL          Upstash REST URL, where the worker keeps its short-lived admin keys
//                                   [http://127.0.0.1:8079]
//   UPSTASH_REDIS_REST_TOKEN        Upstash REST token [driftline-local-token]
//   RETRAIN_POLL_INTERVAL_MS        how often due jobs are looked for [1000]
//   RETRAIN_DECISION_INTERVAL_MS    how often a challenger's outcomes are tested [30000]
//   RETRAIN_LEASE_MS                how long a worker holds a job without renewing it [120000]
//   RETRAIN_MAX_ATTEMPTS            attempts of a step failing on errors before `failed` [5]
//   RETRAIN_MAX_REQUEST_AGE_MS      a request older than this when its turn comes is rejected as stale
//                                   (a policy opens a new one if the drift persists) [604800000]
//   RETRAIN_MIN_ROWS                fewest settled rows to train on [1000]
//   RETRAIN_MIN_PER_CLASS           fewest positives and negatives in training and holdout [20]
//   RETRAIN_MAX_ROWS                most settled rows read, newest first [200000]
//   RETRAIN_SINCE_MS_BEFORE_DRIFT   the training window opens this long before the evidence's drift
//                                   start (when the evidence names one) [0]
//   RETRAIN_HOLDOUT_FRACTION        newest share of the rows kept for the offline gate [0.2]
//   RETRAIN_GATE_MIN_AUC_GAIN       the candidate's AUC must beat the champion's by this [0]
//   RETRAIN_GATE_MIN_LOGLOSS_GAIN   the candidate's log loss must beat the champion's by this [0]
//   RETRAIN_CHALLENGER_SHARE        traffic share of the challenger [0.1]
//   RETRAIN_DECISION_ALPHA          false-positive rate of the online test [0.05]
//   RETRAIN_DECISION_TAU            mixing scale τ of the mSPRT on log loss [0.05]
//   RETRAIN_DECISION_MIN_SAMPLE     labelled rows per arm before a decision [500]
//   RETRAIN_DECISION_MAX_DURATION_MS longest a challenger serves undecided, then rolled back [1209600000]
//   RETRAIN_ALERT_SOURCE            CloudEvents `source` of retraining alerts [/driftline/retraining-worker]
//   RETRAIN_OPERATOR_SINKS          webhook URLs receiving every tenant's retraining alerts [none]
//   RETRAIN_API_HOST                listen address of the ops API [127.0.0.1]
//   RETRAIN_API_PORT                ops API port (/health, /ready, /metrics, operator controls) [8789]
//   RETRAIN_OPS_TOKEN               bearer token of the operator controls and /metrics; required
//                                   when RETRAIN_API_HOST is not loopback [unset: open on loopback]
//   RETRAIN_CONSUME                 consume `retrain-requests` (false: run stored jobs only) [true]
//   LOG_LEVEL                       fatal | error | warn | info | debug | trace | silent [info]

const fraction = (fallback: number) =>
  z.coerce.number({ error: "must be a number" }).gt(0).lt(1).default(fallback);
const positive = (fallback: number) =>
  z.coerce.number({ error: "must be a number" }).positive().default(fallback);
const nonNegative = (fallback: number) =>
  z.coerce.number({ error: "must be a number" }).min(0).default(fallback);

const RetrainingEnv = z.object({
  DATABASE_URL: z.string({ error: "is required (postgres://user@host:port/db)" }).min(1),
  DATABASE_SCHEMA: envOptional(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)),
  NEON_WS_RELAY_URL: envOptional(z.string()),
  KAFKA_BROKERS: envList("127.0.0.1:19092"),
  KAFKA_TOPIC_PREFIX: z.string().default(""),
  RETRAIN_CONSUMER_GROUP: z.string().min(1).max(255).default("driftline-retraining"),
  RETRAIN_SESSION_TIMEOUT_MS: envInt(30_000, 6_000),
  RETRAIN_HEARTBEAT_INTERVAL_MS: envInt(3_000, 100),
  DRIFTLINE_WORKER_URL: z.url().default("http://127.0.0.1:8787"),
  UPSTASH_REDIS_REST_URL: z.url().default("http://127.0.0.1:8079"),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).default("driftline-local-token"),
  RETRAIN_POLL_INTERVAL_MS: envInt(1_000, 10),
  RETRAIN_DECISION_INTERVAL_MS: envInt(30_000, 10),
  RETRAIN_LEASE_MS: envInt(120_000, 1_000),
  RETRAIN_MAX_ATTEMPTS: envInt(5, 1),
  RETRAIN_MAX_REQUEST_AGE_MS: envInt(7 * 86_400_000, 1),
  RETRAIN_MIN_ROWS: envInt(1_000, 10),
  RETRAIN_MIN_PER_CLASS: envInt(20, 1),
  RETRAIN_MAX_ROWS: envInt(200_000, 100),
  RETRAIN_SINCE_MS_BEFORE_DRIFT: envInt(0, 0),
  RETRAIN_HOLDOUT_FRACTION: fraction(0.2),
  RETRAIN_GATE_MIN_AUC_GAIN: z.coerce.number().default(0),
  RETRAIN_GATE_MIN_LOGLOSS_GAIN: z.coerce.number().default(0),
  RETRAIN_CHALLENGER_SHARE: fraction(0.1),
  RETRAIN_DECISION_ALPHA: fraction(0.05),
  RETRAIN_DECISION_TAU: positive(0.05),
  RETRAIN_DECISION_MIN_SAMPLE: envInt(500, 2),
  RETRAIN_DECISION_MAX_DURATION_MS: nonNegative(14 * 86_400_000),
  RETRAIN_ALERT_SOURCE: z.string().min(1).default("/driftline/retraining-worker"),
  RETRAIN_OPERATOR_SINKS: envList(""),
  RETRAIN_API_HOST: z.string().default("127.0.0.1"),
  RETRAIN_API_PORT: envInt(8789, 0, 65_535),
  RETRAIN_OPS_TOKEN: envOptional(z.string().min(16, "must be at least 16 characters")),
  RETRAIN_CONSUME: envBool(true),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type RetrainingEnv = z.output<typeof RetrainingEnv>;

export interface RetrainingConfig {
  database: { url: string; schema?: string; wsRelayUrl?: string };
  kafka: {
    brokers: string[];
    topicPrefix: string;
    groupId: string;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    consume: boolean;
  };
  worker: { url: string };
  upstash: { url: string; token: string };
  jobs: {
    pollIntervalMs: number;
    decisionIntervalMs: number;
    leaseMs: number;
    maxAttempts: number;
    maxRequestAgeMs: number;
  };
  trainingSet: {
    minRows: number;
    minPerClass: number;
    maxRows: number;
    sinceMsBeforeDrift: number;
    holdoutFraction: number;
  };
  gate: { minAucGain: number; minLogLossGain: number };
  rollout: { challengerShare: number };
  decision: { alpha: number; tau: number; minSamplePerArm: number; maxDurationMs: number };
  alerts: { source: string; operatorSinks: string[] };
  api: { host: string; port: number; opsToken?: string };
  logLevel: RetrainingEnv["LOG_LEVEL"];
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Parses `env` once; a ConfigError names every bad key. */
export function loadRetrainingConfig(env: NodeJS.ProcessEnv = process.env): RetrainingConfig {
  const crossKeyProblems =
    env.RETRAIN_API_HOST !== undefined &&
    !LOOPBACK.has(env.RETRAIN_API_HOST) &&
    (env.RETRAIN_OPS_TOKEN ?? "") === ""
      ? [
          {
            key: "RETRAIN_OPS_TOKEN",
            message: "is required when RETRAIN_API_HOST is not a loopback address",
          },
        ]
      : [];
  const e = parseEnv(RetrainingEnv, env, {
    heading: "Invalid retraining worker environment:",
    crossKeyProblems,
  });
  return {
    database: {
      url: e.DATABASE_URL,
      ...(e.DATABASE_SCHEMA === undefined ? {} : { schema: e.DATABASE_SCHEMA }),
      ...(e.NEON_WS_RELAY_URL === undefined ? {} : { wsRelayUrl: e.NEON_WS_RELAY_URL }),
    },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      topicPrefix: e.KAFKA_TOPIC_PREFIX,
      groupId: e.RETRAIN_CONSUMER_GROUP,
      sessionTimeoutMs: e.RETRAIN_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: e.RETRAIN_HEARTBEAT_INTERVAL_MS,
      consume: e.RETRAIN_CONSUME,
    },
    worker: { url: e.DRIFTLINE_WORKER_URL.replace(/\/+$/, "") },
    upstash: { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN },
    jobs: {
      pollIntervalMs: e.RETRAIN_POLL_INTERVAL_MS,
      decisionIntervalMs: e.RETRAIN_DECISION_INTERVAL_MS,
      leaseMs: e.RETRAIN_LEASE_MS,
      maxAttempts: e.RETRAIN_MAX_ATTEMPTS,
      maxRequestAgeMs: e.RETRAIN_MAX_REQUEST_AGE_MS,
    },
    trainingSet: {
      minRows: e.RETRAIN_MIN_ROWS,
      minPerClass: e.RETRAIN_MIN_PER_CLASS,
      maxRows: e.RETRAIN_MAX_ROWS,
      sinceMsBeforeDrift: e.RETRAIN_SINCE_MS_BEFORE_DRIFT,
      holdoutFraction: e.RETRAIN_HOLDOUT_FRACTION,
    },
    gate: {
      minAucGain: e.RETRAIN_GATE_MIN_AUC_GAIN,
      minLogLossGain: e.RETRAIN_GATE_MIN_LOGLOSS_GAIN,
    },
    rollout: { challengerShare: e.RETRAIN_CHALLENGER_SHARE },
    decision: {
      alpha: e.RETRAIN_DECISION_ALPHA,
      tau: e.RETRAIN_DECISION_TAU,
      minSamplePerArm: e.RETRAIN_DECISION_MIN_SAMPLE,
      maxDurationMs: e.RETRAIN_DECISION_MAX_DURATION_MS,
    },
    alerts: { source: e.RETRAIN_ALERT_SOURCE, operatorSinks: e.RETRAIN_OPERATOR_SINKS },
    api: {
      host: e.RETRAIN_API_HOST,
      port: e.RETRAIN_API_PORT,
      ...(e.RETRAIN_OPS_TOKEN === undefined ? {} : { opsToken: e.RETRAIN_OPS_TOKEN }),
    },
    logLevel: e.LOG_LEVEL,
  };
}
