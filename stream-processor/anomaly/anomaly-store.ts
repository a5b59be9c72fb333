/** The AnomalyTransaction port: what the anomaly stage reads and writes inside a batch's transaction, every tenant of the batch in one statement each. */
import type { AnomalyReason } from "#core/anomaly";
import type { QueuedAlert } from "../alerts/neon-alert-queue";
import type { BatchTransaction } from "../batch/batch-transaction";
import type { KpiMetric, MinuteRow, OutcomeRow, PixelRow, ScoreRow } from "./kpi-series";

/** A series' detector as stored. */
export interface StoredSeries {
  tenant: string;
  key: string;
  metric: KpiMetric;
  dimensions: Record<string, string>;
  state: Uint8Array;
  openAnomaly: string | null;
  /** The last minute the series had data (a non-zero count or a defined level). */
  lastDataMs: number;
}

export interface SeriesWrite extends StoredSeries {
  lastValue: number | null;
  lastScore: number | null;
  lastMinuteMs: number;
}

export interface DetectedAnomaly {
  tenant: string;
  anomalyId: string;
  key: string;
  metric: KpiMetric;
  dimensions: Record<string, string>;
  reason: AnomalyReason;
  detectedAtMs: number;
  expected: number;
  lower: number;
  upper: number;
  observed: number;
  score: number;
}

export interface AnomalyUpdate {
  tenant: string;
  anomalyId: string;
  peakScore: number;
  resolvedAtMs?: number;
}

/** Where a tenant's detection stands. */
export interface TenantProgress {
  /** The minutes before it were fed to the detectors (and their alerts stored). */
  evaluatedBeforeMs: number;
  /** The stored detector states are those after the minutes before it (≤ evaluatedBeforeMs). */
  stateThroughMs: number;
}

/** A tenant's minutes to evaluate: [fromMs, toMs). */
export interface TenantRange {
  tenant: string;
  fromMs: number;
  toMs: number;
}

/** Events counted for the first time in a batch, per tenant, Meta pixel and minute of event time. */
export interface PixelDelta {
  tenant: string;
  windowStartMs: number;
  pixel: string;
  events: number;
  matchQualitySum: number;
  matchQualityCount: number;
}

/** A tenant whose newest event time has not moved since `advancedAtMs` (processing time). */
export interface IdleTenant {
  tenant: string;
  /** Its newest trusted event time, epoch ms. */
  maxEventMs: number;
  /** When that newest event time was counted (the batch's processing time), epoch ms. */
  advancedAtMs: number;
}

export interface AnomalyTransaction {
  /**
   * Tenants with detection progress whose newest event time has stood still since at or before
   * `stillSinceMs` but after `silentSinceMs`, and whose newest event was counted within
   * `maxLagMs` of its event time (live traffic, not a replay of history).
   */
  idleTenants(query: {
    stillSinceMs: number;
    maxLagMs: number;
    silentSinceMs: number;
  }): Promise<IdleTenant[]>;
  /** Newest trusted event time per tenant (the pipeline wrote this batch's advance already). */
  maxEventTimes(tenants: readonly string[]): Promise<Map<string, number>>;
  /**
   * Locks the tenants' progress rows (in tenant order; a tenant seen for the first time starts
   * at its first minute window) and answers where detection stands for each. Tenants without
   * any minute window are absent.
   */
  lockProgress(tenants: readonly string[]): Promise<Map<string, TenantProgress>>;
  /** Minute rows of each range, in time order. */
  minuteRows(ranges: readonly TenantRange[]): Promise<Map<string, MinuteRow[]>>;
  /** Ingest outcome counts per minute of receipt and source in each range. */
  minuteOutcomes(ranges: readonly TenantRange[]): Promise<Map<string, OutcomeRow[]>>;
  /** Adds the batch's events to their (tenant, minute, pixel) rows, creating rows as needed. */
  applyPixelDeltas(deltas: readonly PixelDelta[]): Promise<void>;
  /** Events and match quality per Meta pixel and minute in each range. */
  minutePixels(ranges: readonly TenantRange[]): Promise<Map<string, PixelRow[]>>;
  /** Score sums and counts of the stored predictions per minute of scoring and model in each range. */
  minuteScores(ranges: readonly TenantRange[]): Promise<Map<string, ScoreRow[]>>;
  loadSeries(tenants: readonly string[]): Promise<StoredSeries[]>;
  saveSeries(series: readonly SeriesWrite[]): Promise<void>;
  /** Removes retired series (their state and their slot under the tenant's cap). */
  deleteSeries(series: readonly { tenant: string; key: string }[]): Promise<void>;
  insertAnomalies(anomalies: readonly DetectedAnomaly[]): Promise<void>;
  /** Closes anomalies at their resolving minute and raises peak scores of open ones. */
  updateAnomalies(updates: readonly AnomalyUpdate[]): Promise<void>;
  saveProgress(
    progress: readonly (TenantProgress & { tenant: string; overflow: number })[],
  ): Promise<void>;
  /** Stores the alerts and queues their deliveries (Kafka `alerts`, the tenant's webhooks, operator sinks). */
  insertAlerts(alerts: readonly QueuedAlert[], operatorSinks: readonly string[]): Promise<number>;
}

/** Opens the anomaly repository on a batch's transaction. */
export type OpenAnomalies = (tx: BatchTransaction) => AnomalyTransaction;
