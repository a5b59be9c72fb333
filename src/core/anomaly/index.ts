/**
 * Driftline's anomaly detectors, the public entry `driftline/anomaly`: `createDetector(options?)`
 * whose `update({ t, value })` answers `{ t, score, anomaly, … }` for one regular series (a
 * seasonal robust baseline, CUSUM level shifts, a drop-to-zero rule, a warm-up), the windowed
 * z-score it is compared with, a seeded synthetic-series generator with labelled anomalies and
 * the precision/recall scoring used by the benchmark, and the account health score. Pure; no I/O.
 *
 * @module
 */

export {
  type AnomalyAlertData,
  type AnomalyEvidence,
  anomalyCloudEvent,
  describeSeries,
  type SeriesRef,
} from "./anomaly-alert.ts";
export { anomalyId } from "./anomaly-id.ts";
export { cusumDown, cusumUp } from "./cusum.ts";
export {
  type AnomalyDirection,
  type AnomalyReason,
  createDetector,
  DEFAULT_DETECTOR_OPTIONS,
  DETECTOR_STATE_BYTES,
  type Detector,
  type DetectorInput,
  type DetectorOptions,
  type DetectorPoint,
  type ResolvedDetectorOptions,
  resolveDetectorOptions,
  type SeriesKind,
} from "./detector.ts";
export { type DetectionQuality, evaluateDetections } from "./evaluate-detections.ts";
export {
  computeHealthScore,
  type HealthFactor,
  type HealthFactorName,
  type HealthInputs,
  type HealthOptions,
  type HealthScore,
  type OpenAnomalyInput,
} from "./health-score.ts";
export { DAY_BUCKETS, hourOfWeek, MAD_TO_SIGMA, WEEK_BUCKETS } from "./seasonal-baseline.ts";
export {
  generateSyntheticSeries,
  type InjectedAnomaly,
  type InjectedKind,
  type SyntheticSeries,
  type SyntheticSeriesOptions,
} from "./synthetic-series.ts";
export { createZScoreDetector, type ZScoreDetectorOptions } from "./zscore-detector.ts";
