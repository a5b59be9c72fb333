/** The MONITORING_* and WEBHOOK_* environment variables (a zod shape merged into the stream processor's config schema) and what they become. */
import { resolve } from "node:path";
import { z } from "zod";
import { type EnvProblem, envBool, envInt, envList } from "#core/config";
import {
  type MonitoringSettings,
  resolveMonitoringSettings,
  STANDARD_CONVERSION_EVENTS,
} from "#core/monitoring";
import { LOCAL_WEBHOOK_ENCRYPTION_KEY } from "#core/webhooks";

// Environment variables (default in brackets). "off" switches a retraining policy off.
//
//   MONITORING_ENABLED                  drift, labels, performance, alerts, retraining [true]
//   MONITORING_WINDOW_SIZE              predictions in the sliding drift window [2000]
//   MONITORING_WINDOW_STRIDE            new predictions between two sliding evaluations [250]
//   MONITORING_WINDOW_MIN_SAMPLE        fewest predictions before the first evaluation [500]
//   MONITORING_WINDOW_CACHE_MB          memory for sliding windows kept between batches; past it
//                                       the least recently used is re-read from Postgres [256]
//   MONITORING_REFERENCE_CACHE_SIZE     drift references kept in memory (least recently used
//                                       go first) [1000]
//   MONITORING_HOURLY                   also evaluate drift per closed scoring-time hour [true]
//   MONITORING_HOURLY_MAX_ROWS          most predictions read for one hourly evaluation [100000]
//   MONITORING_PSI_EPSILON              PSI smoothing ε [0.0001]
//   MONITORING_PSI_THRESHOLD            PSI at or above which a feature is drifted [0.25]
//   MONITORING_KS_ALPHA                 KS significance level [0.05]
//   MONITORING_KS_MIN_EFFECT            smallest KS D called drift (with p < alpha) [0.1]
//   MONITORING_KS_METHOD                auto | exact | asymp [auto]
//   MONITORING_DRIFT_DECIDE_BY          tests whose verdict makes a feature drifted: psi,ks,jensen-shannon [psi,ks]
//   MONITORING_ATTRIBUTION_WINDOW_MS    unlabelled this long after scoring = negative [604800000]
//   MONITORING_CONVERSION_EVENTS        event names that label predictions; * = any event [Meta's standard conversions: Purchase, Lead, CompleteRegistration, Subscribe, StartTrial, SubmitApplication, Schedule, Contact, Donate]
//   MONITORING_PERFORMANCE_WINDOW_MS    scoring-time window of a performance result [3600000]
//   MONITORING_PERFORMANCE_MIN_SAMPLE   fewest labelled predictions for a result [200]
//   MONITORING_CALIBRATION_BINS         equal-width calibration bins [10]
//   MONITORING_DEGRADED_AUC_DELTA       performance degraded when AUC < baseline − this [0.05]
//   MONITORING_PROVISIONAL_INTERVAL_MS  least time between provisional results of a version; 0 = off [60000]
//   MONITORING_ALERT_CONFIRMATIONS      evaluations in a row before a new level is adopted [1]
//   MONITORING_ALERT_SOURCE             CloudEvents `source` of alerts [/driftline/stream-processor]
//   MONITORING_RETRAIN_PSI_ABOVE        retrain when one feature's PSI ≥ this … [0.25]
//   MONITORING_RETRAIN_PSI_CONSECUTIVE  … for this many sliding evaluations in a row [3]
//   MONITORING_RETRAIN_DRIFTED_SHARE    retrain when this share of features drifted [off]
//   MONITORING_RETRAIN_AUC_DELTA        retrain when AUC < baseline − this [0.05]
//   MONITORING_RETRAIN_MAX_MODEL_AGE_DAYS  retrain models trained longer ago than this [off]
//   MONITORING_RETRAIN_COOLDOWN_MS      least time between two requests for one model [86400000]
//   MONITORING_MODELS_DIR               bundled models (<name>/<version>/manifest.json) used when
//                                       model_versions has no row [the repository's models/]
//   MONITORING_RETENTION_HOURS          predictions and label keys kept this long [192]
//   MONITORING_PURGE_INTERVAL_MS        how often expired rows are deleted; 0 = never [600000]
//   MONITORING_PUBLISH_INTERVAL_MS      how often the outbox is polled [250]
//   MONITORING_OPERATOR_WEBHOOK_URLS    operator sinks: comma-separated http(s) URLs receiving
//                                       every tenant's alerts [empty]; deprecated alias
//                                       MONITORING_WEBHOOK_URLS
//   MONITORING_OPERATOR_WEBHOOK_SECRET  whsec_<base64> Standard Webhooks secret of the operator
//                                       sinks (required with URLs); deprecated alias
//                                       MONITORING_WEBHOOK_SECRET
//   MONITORING_WEBHOOK_TIMEOUT_MS       one webhook attempt's time limit [5000]
//   MONITORING_WEBHOOK_MAX_ATTEMPTS     attempts before a delivery is given up [8]
//   WEBHOOK_ENCRYPTION_KEY              base64 of 32 bytes: the AES-256-GCM key that opens tenant
//                                       endpoints' secrets; the Worker's value [the public
//                                       development key, refused in production]

const number = (fallback: number) =>
  z.coerce.number({ error: "must be a number" }).default(fallback);
const int = envInt;
const orOff = (fallback: number | "off") =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      if (v.trim().toLowerCase() === "off") return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) {
        ctx.addIssue({ code: "custom", message: 'must be a number or "off"' });
        return z.NEVER;
      }
      return n;
    });
const list = envList;
const bool = envBool;

/** The repository's models folder (the bundled default models). */
export const BUNDLED_MODELS_DIR = resolve(import.meta.dirname, "../../models");

/** The MONITORING_* keys; spread into the stream processor's env object schema. */
export const monitoringEnvShape = {
  MONITORING_ENABLED: bool(true),
  MONITORING_WINDOW_SIZE: int(2_000, 1, 1_000_000),
  MONITORING_WINDOW_STRIDE: int(250, 1, 1_000_000),
  MONITORING_WINDOW_MIN_SAMPLE: int(500, 1, 1_000_000),
  MONITORING_WINDOW_CACHE_MB: int(256, 1, 1_000_000),
  MONITORING_REFERENCE_CACHE_SIZE: int(1_000, 1, 10_000_000),
  MONITORING_HOURLY: bool(true),
  MONITORING_HOURLY_MAX_ROWS: int(100_000, 1, 10_000_000),
  MONITORING_PSI_EPSILON: number(1e-4),
  MONITORING_PSI_THRESHOLD: number(0.25),
  MONITORING_KS_ALPHA: number(0.05),
  MONITORING_KS_MIN_EFFECT: number(0.1),
  MONITORING_KS_METHOD: z.enum(["auto", "exact", "asymp"]).default("auto"),
  MONITORING_DRIFT_DECIDE_BY: list("psi,ks").pipe(
    z.array(z.enum(["psi", "ks", "jensen-shannon"])).min(1, "needs at least one test"),
  ),
  MONITORING_ATTRIBUTION_WINDOW_MS: int(7 * 86_400_000, 1),
  // "*" (or an empty value) = any event: the core's empty list.
  MONITORING_CONVERSION_EVENTS: list(STANDARD_CONVERSION_EVENTS.join(",")).transform((names) =>
    names.includes("*") ? [] : names,
  ),
  MONITORING_PERFORMANCE_WINDOW_MS: int(3_600_000, 60_000),
  MONITORING_PERFORMANCE_MIN_SAMPLE: int(200, 1),
  MONITORING_CALIBRATION_BINS: int(10, 1, 1000),
  MONITORING_DEGRADED_AUC_DELTA: number(0.05),
  MONITORING_PROVISIONAL_INTERVAL_MS: int(60_000, 0),
  MONITORING_ALERT_CONFIRMATIONS: int(1, 1, 100),
  MONITORING_ALERT_SOURCE: z.string().min(1).default("/driftline/stream-processor"),
  MONITORING_RETRAIN_PSI_ABOVE: orOff(0.25),
  MONITORING_RETRAIN_PSI_CONSECUTIVE: int(3, 1, 1000),
  MONITORING_RETRAIN_DRIFTED_SHARE: orOff("off"),
  MONITORING_RETRAIN_AUC_DELTA: orOff(0.05),
  MONITORING_RETRAIN_MAX_MODEL_AGE_DAYS: orOff("off"),
  MONITORING_RETRAIN_COOLDOWN_MS: int(86_400_000),
  MONITORING_MODELS_DIR: z.string().min(1).default(BUNDLED_MODELS_DIR),
  MONITORING_RETENTION_HOURS: int(192, 1),
  MONITORING_PURGE_INTERVAL_MS: int(600_000),
  MONITORING_PUBLISH_INTERVAL_MS: int(250, 10, 60_000),
  MONITORING_OPERATOR_WEBHOOK_URLS: list("").pipe(
    z.array(z.url({ protocol: /^https?$/, error: "each webhook must be an http(s) URL" })),
  ),
  MONITORING_OPERATOR_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must look like whsec_<base64>")
    .optional(),
  MONITORING_WEBHOOK_TIMEOUT_MS: int(5_000, 100, 120_000),
  MONITORING_WEBHOOK_MAX_ATTEMPTS: int(8, 1, 100),
  // The same rule and local default as the Worker's, which seals what this key opens.
  WEBHOOK_ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, "must be the base64 of 32 random bytes (44 characters)")
    .default(LOCAL_WEBHOOK_ENCRYPTION_KEY),
};

/**
 * Former names still accepted, each for its current name. The operator sink was once the only
 * webhook; it was renamed when tenants got endpoints of their own, so that its name says it
 * receives every tenant's alerts.
 */
export const DEPRECATED_MONITORING_ENV_ALIASES: Readonly<Record<string, string>> = {
  MONITORING_WEBHOOK_URLS: "MONITORING_OPERATOR_WEBHOOK_URLS",
  MONITORING_WEBHOOK_SECRET: "MONITORING_OPERATOR_WEBHOOK_SECRET",
};

/**
 * `env` with each deprecated name's value under its current name (the current name wins when
 * both are set alike), the deprecated names that were used, and a problem for each pair set to
 * different values (which one is meant cannot be guessed).
 */
export function applyDeprecatedAliases(env: Readonly<Record<string, string>>): {
  env: Record<string, string>;
  used: { name: string; replacedBy: string }[];
  problems: EnvProblem[];
} {
  const out: Record<string, string> = { ...env };
  const used: { name: string; replacedBy: string }[] = [];
  const problems: EnvProblem[] = [];
  for (const [old, current] of Object.entries(DEPRECATED_MONITORING_ENV_ALIASES)) {
    const value = env[old];
    if (value === undefined) continue;
    used.push({ name: old, replacedBy: current });
    delete out[old];
    const set = env[current];
    if (set === undefined) out[current] = value;
    else if (set !== value) {
      problems.push({
        key: current,
        message: `differs from its deprecated alias ${old}; set only ${current}`,
      });
    }
  }
  return { env: out, used, problems };
}

const monitoringEnvSchema = z.object(monitoringEnvShape);
/** The parsed MONITORING_* keys. */
export type MonitoringEnv = z.infer<typeof monitoringEnvSchema>;

export interface MonitoringConfig {
  enabled: boolean;
  settings: MonitoringSettings;
  modelsDir: string;
  /** What the stage keeps in memory between batches. */
  cache: { windowBytes: number; references: number };
  retentionMs: number;
  purgeIntervalMs: number;
  publishIntervalMs: number;
  webhooks: {
    /** Operator sinks: every tenant's alerts, signed with the one operator secret. */
    operator: { urls: string[]; secret: string | undefined };
    /** Base64 of the key that opens tenant endpoints' sealed secrets. */
    encryptionKey: string;
    timeoutMs: number;
    maxAttempts: number;
  };
}

/** Cross-key checks, for the config schema's superRefine: [key, message] pairs. */
export function monitoringEnvIssues(env: MonitoringEnv): [string, string][] {
  const issues: [string, string][] = [];
  if (
    env.MONITORING_OPERATOR_WEBHOOK_URLS.length > 0 &&
    env.MONITORING_OPERATOR_WEBHOOK_SECRET === undefined
  ) {
    issues.push([
      "MONITORING_OPERATOR_WEBHOOK_SECRET",
      "is required when MONITORING_OPERATOR_WEBHOOK_URLS is set",
    ]);
  }
  const keptMs = env.MONITORING_RETENTION_HOURS * 3_600_000;
  const neededMs = env.MONITORING_ATTRIBUTION_WINDOW_MS + env.MONITORING_PERFORMANCE_WINDOW_MS;
  if (keptMs <= neededMs) {
    issues.push([
      "MONITORING_RETENTION_HOURS",
      `must keep predictions longer than the attribution window plus a performance window (${Math.ceil(neededMs / 3_600_000)} h), or they are deleted before their labels are final`,
    ]);
  }
  try {
    monitoringSettingsFrom(env);
  } catch (error) {
    const field = (error as { issues?: { field: string }[] }).issues?.[0]?.field ?? "";
    issues.push([envKeyOf(field), (error as Error).message]);
  }
  return issues;
}

const FIELD_KEYS: Record<string, string> = {
  "sliding.size": "MONITORING_WINDOW_SIZE",
  "sliding.stride": "MONITORING_WINDOW_STRIDE",
  "sliding.minSample": "MONITORING_WINDOW_MIN_SAMPLE",
  "psi.epsilon": "MONITORING_PSI_EPSILON",
  "psi.threshold": "MONITORING_PSI_THRESHOLD",
  "ks.alpha": "MONITORING_KS_ALPHA",
  "ks.minEffect": "MONITORING_KS_MIN_EFFECT",
  "performance.degradedAucDelta": "MONITORING_DEGRADED_AUC_DELTA",
  "retrain.psiAbove": "MONITORING_RETRAIN_PSI_ABOVE",
  "retrain.driftedShare": "MONITORING_RETRAIN_DRIFTED_SHARE",
  "retrain.aucDelta": "MONITORING_RETRAIN_AUC_DELTA",
  "retrain.maxModelAgeMs": "MONITORING_RETRAIN_MAX_MODEL_AGE_DAYS",
};

function envKeyOf(field: string): string {
  return FIELD_KEYS[field] ?? "MONITORING_ENABLED";
}

function monitoringSettingsFrom(e: MonitoringEnv): MonitoringSettings {
  return resolveMonitoringSettings({
    sliding: {
      size: e.MONITORING_WINDOW_SIZE,
      stride: e.MONITORING_WINDOW_STRIDE,
      minSample: e.MONITORING_WINDOW_MIN_SAMPLE,
    },
    hourly: { enabled: e.MONITORING_HOURLY, maxRows: e.MONITORING_HOURLY_MAX_ROWS },
    drift: {
      psi: { epsilon: e.MONITORING_PSI_EPSILON, threshold: e.MONITORING_PSI_THRESHOLD },
      ks: {
        alpha: e.MONITORING_KS_ALPHA,
        minEffect: e.MONITORING_KS_MIN_EFFECT,
        method: e.MONITORING_KS_METHOD,
      },
      decideBy: e.MONITORING_DRIFT_DECIDE_BY,
    },
    labels: {
      attributionWindowMs: e.MONITORING_ATTRIBUTION_WINDOW_MS,
      conversionEvents: e.MONITORING_CONVERSION_EVENTS,
    },
    performance: {
      windowMs: e.MONITORING_PERFORMANCE_WINDOW_MS,
      minSample: e.MONITORING_PERFORMANCE_MIN_SAMPLE,
      calibrationBins: e.MONITORING_CALIBRATION_BINS,
      degradedAucDelta: e.MONITORING_DEGRADED_AUC_DELTA,
      provisionalIntervalMs: e.MONITORING_PROVISIONAL_INTERVAL_MS,
    },
    alerts: {
      confirmations: e.MONITORING_ALERT_CONFIRMATIONS,
      source: e.MONITORING_ALERT_SOURCE,
    },
    retrain: {
      psiAbove: e.MONITORING_RETRAIN_PSI_ABOVE,
      psiConsecutive: e.MONITORING_RETRAIN_PSI_CONSECUTIVE,
      driftedShare: e.MONITORING_RETRAIN_DRIFTED_SHARE,
      aucDelta: e.MONITORING_RETRAIN_AUC_DELTA,
      maxModelAgeMs:
        e.MONITORING_RETRAIN_MAX_MODEL_AGE_DAYS === undefined
          ? undefined
          : Math.round(e.MONITORING_RETRAIN_MAX_MODEL_AGE_DAYS * 86_400_000),
      cooldownMs: e.MONITORING_RETRAIN_COOLDOWN_MS,
    },
  });
}

/** The parsed MONITORING_* keys as the monitoring service's configuration (call after the schema checks passed). */
export function monitoringConfigFrom(e: MonitoringEnv): MonitoringConfig {
  return {
    enabled: e.MONITORING_ENABLED,
    settings: monitoringSettingsFrom(e),
    modelsDir: e.MONITORING_MODELS_DIR,
    cache: {
      windowBytes: e.MONITORING_WINDOW_CACHE_MB * 1024 * 1024,
      references: e.MONITORING_REFERENCE_CACHE_SIZE,
    },
    retentionMs: e.MONITORING_RETENTION_HOURS * 3_600_000,
    purgeIntervalMs: e.MONITORING_PURGE_INTERVAL_MS,
    publishIntervalMs: e.MONITORING_PUBLISH_INTERVAL_MS,
    webhooks: {
      operator: {
        urls: e.MONITORING_OPERATOR_WEBHOOK_URLS,
        secret: e.MONITORING_OPERATOR_WEBHOOK_SECRET,
      },
      encryptionKey: e.WEBHOOK_ENCRYPTION_KEY,
      timeoutMs: e.MONITORING_WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.MONITORING_WEBHOOK_MAX_ATTEMPTS,
    },
  };
}
