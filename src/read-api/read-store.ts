/** The ReadStore port: the tenant's monitoring results as the read API serves them, one page at a time. */

import type { MetricsReader } from "#core/read-models";
import { LEGACY_RETRAINING_STATUSES, RETRAINING_STATUSES } from "#core/retraining";

/** Where a page starts: after the row with this sort key (exclusive). */
export interface After<K> {
  after?: K;
  /** Rows wanted; a store returns up to limit + 1 so the caller can tell there is more. */
  limit: number;
}

/** A time range in epoch ms, [fromMs, toMs). */
export interface RangeMs {
  fromMs: number;
  toMs: number;
}

/** Sort key of time-ordered rows: the time in µs (exact, as Postgres keeps it) and a tiebreak. */
export interface TimeKey {
  atUs: string;
  id: string;
}

export interface DriftQuery extends RangeMs, After<TimeKey> {
  tenant: string;
  model: string;
  version?: string;
  feature?: string;
}

/** One evaluation of one feature (or `__score__`): its tests side by side and the PSI bins. */
export interface DriftEntry {
  key: TimeKey;
  evaluatedAtMs: number;
  version: string;
  feature: string;
  window: { kind: string; fromMs: number; toMs: number; size: number };
  psi: number | null;
  ks: { statistic: number; pValue: number } | null;
  jensenShannon: number | null;
  drifted: boolean;
  bins: DriftBins | null;
}

/**
 * Entries in order and, when the store stopped scanning before the range ended, the key it
 * scanned to: the next page starts after it even if fewer than `limit` entries were found.
 */
export interface DriftPage {
  entries: DriftEntry[];
  scannedTo?: TimeKey;
}

export interface DriftBins {
  edges?: number[];
  categories?: string[];
  /** Smoothed reference proportions p, one per bin (the PSI's own). */
  reference: number[];
  /** Smoothed current proportions q. */
  current: number[];
  epsilon?: number;
}

export interface PerformanceQuery extends RangeMs, After<TimeKey> {
  tenant: string;
  model: string;
  version?: string;
}

export interface PerformanceEntry {
  key: TimeKey;
  version: string;
  windowStartMs: number;
  windowEndMs: number;
  /** The attribution window the processor labelled this window with, when it recorded one. */
  attributionWindowMs: number | undefined;
  /** Written by the processor from the labels so far, before the window's attribution ended. */
  provisional: boolean;
  n: number;
  positives: number;
  auc: number | null;
  logLoss: number;
  brier: number;
  calibration: { predicted: number; observed: number; n: number }[];
}

export const ALERT_STATUSES = ["open", "acknowledged", "resolved"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export interface AlertQuery extends RangeMs, After<TimeKey> {
  tenant: string;
  status?: AlertStatus;
  type?: string;
  model?: string;
}

export interface AlertEntry {
  key: TimeKey;
  id: string;
  type: string;
  status: AlertStatus;
  model: string | null;
  version: string | null;
  createdAtMs: number;
  acknowledgedAtMs: number | null;
  event: Record<string, unknown>;
}

export type AcknowledgeResult =
  | { kind: "acknowledged"; id: string; acknowledgedAtMs: number }
  | { kind: "resolved" }
  | { kind: "not-found" };

/**
 * The retraining worker's statuses (#core/retraining), then those of requests stored before it
 * existed ('open' is read as 'requested' since the worker's migration).
 */
export const RETRAIN_STATUSES = [...RETRAINING_STATUSES, ...LEGACY_RETRAINING_STATUSES] as const;
export type RetrainStatus = (typeof RETRAIN_STATUSES)[number];

export interface RetrainQuery extends After<TimeKey> {
  tenant: string;
  model?: string;
  status?: RetrainStatus;
}

export interface RetrainEntry {
  key: TimeKey;
  id: string;
  model: string;
  version: string;
  status: RetrainStatus;
  policy: string;
  evidence: Record<string, unknown>;
  requestedAtMs: number;
  /** Why it is in its status, and that step's evidence (null before the worker's first step). */
  reason: string | null;
  statusEvidence: Record<string, unknown> | null;
}

export interface RetrainHistoryEntry {
  status: string;
  atMs: number;
  reason: string | null;
}

/** What a request's training set covers: the window the retraining worker froze, or up to now. */
export interface TrainingSetWindow {
  model: string;
  version: string;
  /** Feature names in model input order (the registered manifest's); null when unregistered. */
  features: string[] | null;
  /** Epoch ms: rows scored or labelled after this are left out. */
  cutoffMs: number;
  /** Epoch ms the window opens at; null: every settled row, newest first up to the limit. */
  sinceMs: number | null;
}

export interface TrainingSetRow {
  id: string;
  predictedAtMs: number;
  features: Record<string, unknown>;
  label: boolean;
}

export interface TrainingSetPageQuery {
  tenant: string;
  window: TrainingSetWindow;
  /** Rows after this (scoring time, prediction id), oldest first. */
  after?: { atMs: number; id: string };
  limit: number;
}

/** A tenant's (model "") or one model's stored monitoring settings. */
export interface StoredMonitoringSettings {
  /** The fields set at this level, as stored. */
  overrides: Record<string, unknown>;
  revision: number;
  updatedAtMs: number;
}

/** What settings reads need in one round trip: the operator's values and the stored levels. */
export interface MonitoringSettingsLayers {
  /** The operator's values as the stream processor stored them (undefined: it has not run yet). */
  operator: { settings: unknown; updatedAtMs: number } | undefined;
  tenant: StoredMonitoringSettings | undefined;
  /** The model's level (only when a model was asked for). */
  model: StoredMonitoringSettings | undefined;
}

export const ANOMALY_STATUSES = ["open", "resolved"] as const;
export type AnomalyStatus = (typeof ANOMALY_STATUSES)[number];

export interface AnomalyQuery extends RangeMs, After<TimeKey> {
  tenant: string;
  status?: AnomalyStatus;
  metric?: string;
}

/** One anomaly of one KPI series, with the evidence at detection. */
export interface AnomalyEntry {
  key: TimeKey;
  id: string;
  metric: string;
  dimensions: Record<string, string>;
  reason: string;
  detectedAtMs: number;
  resolvedAtMs: number | null;
  expected: number;
  lower: number;
  upper: number;
  observed: number;
  score: number;
  peakScore: number;
}

/** What the health score is computed from, read at one instant. */
export interface HealthReadings {
  openAnomalies: AnomalyEntry[];
  /** Match-quality sums of the last 24 h per source. */
  matchQuality: { source: string; sum: number; count: number; events: number }[];
  /** Model columns whose latest drift alert says drifting. */
  driftingColumns: number;
  /** Model versions whose latest performance alert says degraded. */
  degradedModels: number;
  seriesOverflow: number;
  /** CAPI events and match-quality sums of the last 24 h per Meta pixel. */
  pixels: { pixel: string; events: number; sum: number; count: number }[];
  /** Ingest outcomes of the last 24 h per source (events accepted, duplicate, rejected, copies). */
  outcomes: {
    source: string;
    accepted: number;
    duplicates: number;
    rejected: number;
    copies: number;
  }[];
}

export interface ExplanationQuery extends RangeMs, After<TimeKey> {
  tenant: string;
  model: string;
  version?: string;
}

/** A logged prediction with its top reasons (signed contributions, largest magnitude first). */
export interface ExplainedPrediction {
  /** Newest first: the next page starts below this key. */
  key: TimeKey;
  predictionId: string;
  version: string;
  score: number;
  predictedAtMs: number;
  reasons: { feature: string; contribution: number }[];
}

/** Over the explained predictions of a range: how many, and each feature's reasons averaged (newest sample). */
export interface ExplanationSummary {
  /** Explained predictions in the range, counted up to EXPLANATION_COUNT_CAP. */
  explained: number;
  /** The newest of them the features are averaged over (at most EXPLANATION_SUMMARY_SAMPLE). */
  summarized: number;
  /** Largest mean |contribution| first, at most EXPLANATION_SUMMARY_FEATURES. */
  features: {
    feature: string;
    /** Mean |contribution| over the predictions that list the feature among their reasons. */
    meanAbs: number;
    mean: number;
    /** Predictions that list it. */
    count: number;
  }[];
}

/** Features an explanation summary lists at most. */
export const EXPLANATION_SUMMARY_FEATURES = 20;
/** Explained predictions an explanation summary counts at most (the cap means "at least"). */
export const EXPLANATION_COUNT_CAP = 10_000;
/** Explained predictions (the range's newest) an explanation summary averages over at most. */
export const EXPLANATION_SUMMARY_SAMPLE = 2_000;

/** One request's view of Postgres; `close` ends its connections (Workers: within the request). */
export interface ReadStore extends MetricsReader {
  listDrift(q: DriftQuery): Promise<DriftPage>;
  listPerformance(q: PerformanceQuery): Promise<PerformanceEntry[]>;
  /** Explained predictions of a model in the range, newest first. */
  listExplanations(q: ExplanationQuery): Promise<ExplainedPrediction[]>;
  /** The range's explained predictions summed up per feature (no cursor: the whole range). */
  explanationSummary(q: Omit<ExplanationQuery, "after" | "limit">): Promise<ExplanationSummary>;
  /** Whether the tenant has a model of this name (registered, promoted, or with results). */
  hasModel(tenant: string, model: string): Promise<boolean>;
  listAlerts(q: AlertQuery): Promise<AlertEntry[]>;
  listAnomalies(q: AnomalyQuery): Promise<AnomalyEntry[]>;
  healthReadings(tenant: string, nowMs: number): Promise<HealthReadings>;
  acknowledgeAlert(tenant: string, id: string): Promise<AcknowledgeResult>;
  listRetrainRequests(q: RetrainQuery): Promise<RetrainEntry[]>;
  getRetrainRequest(
    tenant: string,
    id: string,
  ): Promise<(RetrainEntry & { history: RetrainHistoryEntry[] }) | undefined>;
  /** The window of a request's training set; undefined when the tenant has no such request. */
  trainingSetWindow(
    tenant: string,
    id: string,
    nowMs: number,
  ): Promise<TrainingSetWindow | undefined>;
  /** One page of settled rows of the window, oldest first. */
  trainingSetPage(q: TrainingSetPageQuery): Promise<TrainingSetRow[]>;
  /** The settings levels of the tenant (and of `model` when given). */
  monitoringSettings(tenant: string, model: string | undefined): Promise<MonitoringSettingsLayers>;
  /** Replaces one level's overrides ({} clears them); bumps the revision the processor compares. */
  saveMonitoringSettings(
    tenant: string,
    model: string | undefined,
    overrides: Record<string, unknown>,
  ): Promise<StoredMonitoringSettings>;
  close(): Promise<void>;
}

/** What the services bundle holds: opens a store per request, and the read settings. */
export interface ReadStoreSource {
  open(): ReadStore;
  /** The stream processor's allowed lateness: where the watermark sits behind the newest event. */
  allowedLatenessMs: number;
  /** Most rows one /v1/metrics answer may hold. */
  metricsMaxRows: number;
  /** Attribution window assumed for performance rows that do not record theirs. */
  defaultAttributionWindowMs: number;
}
