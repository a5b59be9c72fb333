/** A watched series in memory (its detector and open anomaly), and what one evaluation gathers to store. */
import type { Detector, DetectorPoint } from "#core/anomaly";
import type { QueuedAlert } from "../alerts/neon-alert-queue";
import type { AnomalyUpdate, DetectedAnomaly, SeriesWrite, TenantProgress } from "./anomaly-store";
import type { KpiMetric } from "./kpi-series";

export interface LiveSeries {
  tenant: string;
  key: string;
  metric: KpiMetric;
  dimensions: Record<string, string>;
  detector: Detector;
  openAnomaly: string | null;
  peak: number;
  last?: DetectorPoint;
  lastMinuteMs: number;
  /** The last minute with data (a non-zero count or a defined level). */
  lastDataMs: number;
}

/** What one evaluation stores, gathered over its tenants. */
export interface Outcome {
  detected: DetectedAnomaly[];
  /** By tenant and anomaly id. */
  updates: Map<string, AnomalyUpdate>;
  alerts: QueuedAlert[];
  writes: SeriesWrite[];
  /** Series retired, deleted with the checkpoint their tenant writes in this evaluation. */
  retired: { tenant: string; key: string; metric: KpiMetric }[];
}

/** A tenant's detectors held between batches, and the progress they stand for. */
export interface CachedTenant extends TenantProgress {
  series: Map<string, LiveSeries>;
}

export function emptyOutcome(): Outcome {
  return { detected: [], updates: new Map(), alerts: [], writes: [], retired: [] };
}

/** The checkpoint row of a series as it stands. */
export function seriesWrite(s: LiveSeries): SeriesWrite {
  return {
    tenant: s.tenant,
    key: s.key,
    metric: s.metric,
    dimensions: s.dimensions,
    state: s.detector.snapshot(),
    openAnomaly: s.openAnomaly,
    lastValue: s.last?.value ?? null,
    lastScore: s.last?.score ?? null,
    lastMinuteMs: s.lastMinuteMs,
    lastDataMs: s.lastDataMs,
  };
}
