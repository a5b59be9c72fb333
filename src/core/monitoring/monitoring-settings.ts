/** Model monitoring settings (windows, drift thresholds, labels, performance, alerts, retraining) with defaults and checks. */

import { ValidationError } from "../errors.ts";
import { type DriftConfig, type DriftConfigInput, resolveDriftConfig } from "../stats/index.ts";
import { DEFAULT_CALIBRATION_BINS, DEFAULT_LOG_LOSS_EPSILON } from "./performance-metrics.ts";

/** The sliding window of recent predictions drift is evaluated on. */
export interface SlidingWindowSpec {
  /** Most recent predictions in the window (default 2 000). */
  size: number;
  /** New predictions between two evaluations (default 250). */
  stride: number;
  /** Fewest predictions in the window before the first evaluation (default 500). */
  minSample: number;
}

/** Settings of the retraining policies built from configuration (unset = policy off). */
export interface RetrainSettings {
  /** PSI at or above this on one feature for `psiConsecutive` evaluations in a row (default 0.25). */
  psiAbove: number | undefined;
  /** Consecutive sliding evaluations for `psiAbove` (default 3). */
  psiConsecutive: number;
  /** Share of monitored features called drifted in one evaluation (default unset). */
  driftedShare: number | undefined;
  /** AUC below the baseline minus this (default 0.05). */
  aucDelta: number | undefined;
  /** Model age since `trainedAt` (default unset). */
  maxModelAgeMs: number | undefined;
  /** Least time between two retraining requests of one model (tenant, model name), ms (default 24 h). */
  cooldownMs: number;
}

export interface MonitoringSettings {
  sliding: SlidingWindowSpec;
  hourly: {
    /** Evaluate drift per clock hour of scoring time once the hour is closed (default true). */
    enabled: boolean;
    /** Most predictions read for one hourly evaluation (a deterministic subsample beyond; default 100 000). */
    maxRows: number;
  };
  /** Drift tests and thresholds (the statistics core's settings; minSampleSize = sliding.minSample). */
  drift: DriftConfig;
  labels: {
    /** A prediction unlabelled this long after it was made (event time) is a negative, ms (default 7 days). */
    attributionWindowMs: number;
    /**
     * Event names that label a prediction; empty = every event that names one (default
     * STANDARD_CONVERSION_EVENTS).
     */
    conversionEvents: readonly string[];
  };
  performance: {
    /** Width of the scoring-time windows performance is computed on, ms (default 1 h). */
    windowMs: number;
    /** Fewest labelled predictions for a performance result (default 200). */
    minSample: number;
    calibrationBins: number;
    logLossEpsilon: number;
    /** Performance is degraded when AUC < baseline − this (default 0.05). */
    degradedAucDelta: number;
    /**
     * Least time between two provisional results of one model version, ms of processing time
     * (default 1 min); 0 writes none. Open windows are re-evaluated at most this often.
     */
    provisionalIntervalMs: number;
  };
  alerts: {
    /** Evaluations in a row a new drift or performance state must hold before it is adopted (default 1). */
    confirmations: number;
    /** CloudEvents `source` of every alert (default "/driftline/stream-processor"). */
    source: string;
  };
  retrain: RetrainSettings;
}

/** Partial settings as read from configuration. */
export interface MonitoringSettingsInput {
  sliding?: Partial<SlidingWindowSpec>;
  hourly?: Partial<MonitoringSettings["hourly"]>;
  drift?: Omit<DriftConfigInput, "minSampleSize">;
  labels?: Partial<MonitoringSettings["labels"]>;
  performance?: Partial<MonitoringSettings["performance"]>;
  alerts?: Partial<MonitoringSettings["alerts"]>;
  retrain?: Partial<RetrainSettings>;
}

const DAY_MS = 86_400_000;

/**
 * Meta's standard events that are outcomes rather than steps on the way: the default conversions.
 * Browsing and funnel events (PageView, ViewContent, AddToCart, InitiateCheckout, …) are left
 * out: they carry the visitor's click ids too (the fbc cookie rides on every event after an ad
 * click), so counting them would label nearly every clicked prediction positive.
 */
export const STANDARD_CONVERSION_EVENTS: readonly string[] = [
  "Purchase",
  "Lead",
  "CompleteRegistration",
  "Subscribe",
  "StartTrial",
  "SubmitApplication",
  "Schedule",
  "Contact",
  "Donate",
];

export const DEFAULT_MONITORING_SETTINGS = {
  sliding: { size: 2_000, stride: 250, minSample: 500 },
  hourly: { enabled: true, maxRows: 100_000 },
  labels: { attributionWindowMs: 7 * DAY_MS, conversionEvents: STANDARD_CONVERSION_EVENTS },
  performance: {
    windowMs: 3_600_000,
    minSample: 200,
    calibrationBins: DEFAULT_CALIBRATION_BINS,
    logLossEpsilon: DEFAULT_LOG_LOSS_EPSILON,
    degradedAucDelta: 0.05,
    provisionalIntervalMs: 60_000,
  },
  alerts: { confirmations: 1, source: "/driftline/stream-processor" },
  retrain: {
    psiAbove: 0.25,
    psiConsecutive: 3,
    driftedShare: undefined,
    aucDelta: 0.05,
    maxModelAgeMs: undefined,
    cooldownMs: DAY_MS,
  } as RetrainSettings,
} as const;

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new ValidationError(`monitoring.${field} ${message}`, [{ field, message }]);
}

const isInt = (v: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  Number.isInteger(v) && v >= min && v <= max;

/**
 * Fills defaults into partial settings and checks them.
 * @throws ValidationError naming the first bad field
 */
export function resolveMonitoringSettings(input: MonitoringSettingsInput = {}): MonitoringSettings {
  const d = DEFAULT_MONITORING_SETTINGS;
  const sliding = { ...d.sliding, ...input.sliding };
  check(isInt(sliding.size, 1, 1_000_000), "sliding.size", "must be a whole number in 1..1000000");
  check(isInt(sliding.stride, 1, sliding.size), "sliding.stride", "must be in 1..sliding.size");
  check(
    isInt(sliding.minSample, 1, sliding.size),
    "sliding.minSample",
    "must be in 1..sliding.size",
  );
  const hourly = { ...d.hourly, ...input.hourly };
  check(isInt(hourly.maxRows, 1, 10_000_000), "hourly.maxRows", "must be in 1..10000000");
  const drift = resolveDriftConfig({ ...input.drift, minSampleSize: sliding.minSample });
  const labels = {
    attributionWindowMs: input.labels?.attributionWindowMs ?? d.labels.attributionWindowMs,
    conversionEvents: [...(input.labels?.conversionEvents ?? d.labels.conversionEvents)],
  };
  check(
    isInt(labels.attributionWindowMs, 1),
    "labels.attributionWindowMs",
    "must be a positive whole number of ms",
  );
  const performance = { ...d.performance, ...input.performance };
  check(
    isInt(performance.windowMs, 60_000, 31 * DAY_MS),
    "performance.windowMs",
    "must be from 1 minute to 31 days",
  );
  check(
    isInt(performance.minSample, 1),
    "performance.minSample",
    "must be a positive whole number",
  );
  check(
    isInt(performance.calibrationBins, 1, 1000),
    "performance.calibrationBins",
    "must be in 1..1000",
  );
  check(
    performance.logLossEpsilon > 0 && performance.logLossEpsilon < 0.5,
    "performance.logLossEpsilon",
    "must be in (0, 0.5)",
  );
  check(
    performance.degradedAucDelta >= 0 && performance.degradedAucDelta < 1,
    "performance.degradedAucDelta",
    "must be in [0, 1)",
  );
  check(
    isInt(performance.provisionalIntervalMs, 0, 31 * DAY_MS),
    "performance.provisionalIntervalMs",
    "must be from 0 (off) to 31 days",
  );
  const alerts = { ...d.alerts, ...input.alerts };
  check(isInt(alerts.confirmations, 1, 100), "alerts.confirmations", "must be in 1..100");
  check(alerts.source.length > 0, "alerts.source", "must not be empty");
  const retrain: RetrainSettings = { ...d.retrain, ...input.retrain };
  if (retrain.psiAbove !== undefined) {
    check(retrain.psiAbove > 0, "retrain.psiAbove", "must be positive");
  }
  check(isInt(retrain.psiConsecutive, 1, 1000), "retrain.psiConsecutive", "must be in 1..1000");
  if (retrain.driftedShare !== undefined) {
    check(
      retrain.driftedShare > 0 && retrain.driftedShare <= 1,
      "retrain.driftedShare",
      "must be in (0, 1]",
    );
  }
  if (retrain.aucDelta !== undefined) {
    check(retrain.aucDelta >= 0 && retrain.aucDelta < 1, "retrain.aucDelta", "must be in [0, 1)");
  }
  if (retrain.maxModelAgeMs !== undefined) {
    check(
      isInt(retrain.maxModelAgeMs, 1),
      "retrain.maxModelAgeMs",
      "must be a positive whole number of ms",
    );
  }
  check(isInt(retrain.cooldownMs, 0), "retrain.cooldownMs", "must be a whole number of ms ≥ 0");
  return { sliding, hourly, drift, labels, performance, alerts, retrain };
}
