/**
 * Driftline's model monitoring core: sliding windows of recent predictions, drift per feature and
 * on the score against the manifest's frozen reference, performance once labels are final, the
 * alert state machine (CloudEvents 1.0), retraining policies with their evidence, and Standard
 * Webhooks signing. Pure: no I/O; the stream processor (stream-processor/monitoring) stores and
 * publishes what these functions return.
 *
 * @module
 */

export {
  ALERT_TYPES,
  type AlertType,
  type BuildCloudEventInput,
  buildCloudEvent,
  CLOUDEVENTS_JSON_CONTENT_TYPE,
  type CloudEvent,
  cloudEventSchema,
} from "./cloud-event.ts";
export {
  type ColumnDrift,
  DRIFT_LEVEL_RANK,
  type DriftLevel,
  type DriftResultRow,
  driftLevelOf,
  driftResultRows,
  type EvaluatedWindow,
  evaluateModelDrift,
  type ModelDriftEvaluation,
  type WindowKind,
} from "./evaluate-model-drift.ts";
export {
  evaluatePerformance,
  type InsufficientLabels,
  type PerformanceOptions,
  type PerformanceResult,
  type PerformanceWindow,
} from "./evaluate-performance.ts";
export { type LabelSignal, labelSignalOf, signalForConversions } from "./label-signals.ts";
export {
  type Alert,
  advanceLevel,
  initialMonitorState,
  type LevelState,
  type ModelMonitorState,
  type MonitorContext,
  type MonitorStep,
  monitoringId,
  observeDriftEvaluation,
  observePerformanceResult,
  type PerformanceLevel,
  type RetrainRequest,
} from "./model-monitor.ts";
export {
  type ModelReference,
  type MonitoredColumn,
  prepareModelReference,
} from "./model-reference.ts";
export {
  DEFAULT_MONITORING_SETTINGS,
  type MonitoringSettings,
  type MonitoringSettingsInput,
  type RetrainSettings,
  resolveMonitoringSettings,
  type SlidingWindowSpec,
  STANDARD_CONVERSION_EVENTS,
} from "./monitoring-settings.ts";
export {
  brierScore,
  type CalibrationBin,
  calibrationTable,
  DEFAULT_CALIBRATION_BINS,
  DEFAULT_LOG_LOSS_EPSILON,
  expectedCalibrationError,
  logLoss,
  rocAuc,
} from "./performance-metrics.ts";
export { policyFromSettings } from "./policy-from-settings.ts";
export {
  PredictionWindow,
  SCORE_COLUMN,
  type WindowColumn,
  type WindowRow,
} from "./prediction-window.ts";
export {
  type AucOptions,
  cooldownRemainingMs,
  type PolicyContext,
  type PolicyDecision,
  type PolicyEvidence,
  type PolicyObservation,
  type PolicyState,
  type PsiAboveOptions,
  type RetrainPolicy,
  retrainWhen,
  type ShareOptions,
} from "./retrain-policies.ts";
export {
  ANY_EVENT,
  applyMonitoringOverrides,
  type MonitoringOverrides,
  type MonitoringSettingsView,
  modelMonitoringOverridesSchema,
  monitoringSettingsView,
  parseMonitoringOverrides,
  tenantMonitoringOverridesSchema,
} from "./settings-overrides.ts";
export { createWebhookSigner, type WebhookHeaders } from "./webhook-signature.ts";
