/** The AnomalyTransaction port: what the anomaly stage reads and writes inside a batch's transaction. */
import type { AnomalyReason } from "#core/anomaly";
import type { QueuedAlert } from "../alerts/neon-alert-queue";
import type { BatchTransaction } from "../batch/batch-transaction";
import type { KpiMetric, MinuteRow } from "./kpi-series";

/** A series' detector as stored. */
export interface StoredSeries {
  key: string;
  metric: KpiMetric;
  dimensions: Record<string, string>;
  state: Uint8Array;
  openAnomaly: string | null;
}

export interface SeriesWrite extends StoredSeries {
  lastValue: number | null;
  lastScore: number | null;
  lastMinuteMs: number;
}

export interface DetectedAnomaly {
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

export interface AnomalyTransaction {
  /** Newest trusted event time per tenant (the pipeline wrote this batch's advance already). */
  maxEventTimes(tenants: readonly string[]): Promise<Map<string, number>>;
  /**
   * Locks the tenant's progress row (creating it at `initialMs` when missing) and answers where
   * detection stands: the minutes before it were fed to the detectors.
   */
  lockProgress(
    tenant: string,
    initialMs: () => Promise<number | undefined>,
  ): Promise<number | undefined>;
  /** First minute window the tenant has, if any. */
  firstMinute(tenant: string): Promise<number | undefined>;
  minuteRows(tenant: string, fromMs: number, toMs: number): Promise<MinuteRow[]>;
  loadSeries(tenant: string): Promise<StoredSeries[]>;
  saveSeries(tenant: string, series: readonly SeriesWrite[]): Promise<void>;
  insertAnomalies(tenant: string, anomalies: readonly DetectedAnomaly[]): Promise<void>;
  /** Closes anomalies at their resolving minute and raises peak scores of open ones. */
  updateAnomalies(
    tenant: string,
    updates: readonly { anomalyId: string; peakScore: number; resolvedAtMs?: number }[],
  ): Promise<void>;
  saveProgress(tenant: string, evaluatedBeforeMs: number, overflow: number): Promise<void>;
  /** Stores the alerts and queues their deliveries (Kafka `alerts`, the tenant's webhooks). */
  insertAlerts(alerts: readonly QueuedAlert[], operatorSinks: readonly string[]): Promise<number>;
}

/** Opens the anomaly repository on a batch's transaction. */
export type OpenAnomalies = (tx: BatchTransaction) => AnomalyTransaction;
