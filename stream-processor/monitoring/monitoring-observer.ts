/** The monitoring stage's observer port; its adapter is MonitoringMetrics (monitoring-metrics.ts). */
import type { Alert, ModelDriftEvaluation, RetrainRequest } from "#core/monitoring";
import type { ModelKey } from "./monitoring-store";

/** What monitoring reports for metrics: evaluation timings, sliding drift, alerts, requests. */
export interface MonitoringObserver {
  evaluated(kind: "sliding" | "hourly" | "performance", durationMs: number): void;
  slidingDrift(key: ModelKey, evaluation: ModelDriftEvaluation): void;
  alerted(alerts: readonly Alert[]): void;
  retrainRequested(requests: readonly RetrainRequest[], suppressed: number): void;
  /** The version's sliding window left memory (evicted or unmonitored): its live series can go. */
  windowDropped?(key: ModelKey): void;
}
