/** The monitoring ports: what the monitoring stage reads and writes inside a batch transaction, and the outbox the publisher drains. */
import type {
  Alert,
  DriftResultRow,
  EvaluatedWindow,
  ModelMonitorState,
  PerformanceResult,
  RetrainRequest,
  WindowRow,
} from "#core/monitoring";
import type { BatchTransaction } from "../batch/batch-transaction";

/** One monitored model version. */
export interface ModelKey {
  tenant: string;
  model: string;
  version: string;
}

/** A prediction as stored for windows and the label join. */
export interface PredictionRow {
  tenant: string;
  predictionId: string;
  model: string;
  version: string;
  entityId: string | undefined;
  score: number;
  features: Record<string, number | string>;
  /** The score's largest signed contributions, when the Worker logs them (PREDICTION_LOG_REASONS). */
  reasons?: { feature: string; contribution: number }[] | undefined;
  /** Scoring time, epoch ms. */
  predictedAtMs: number;
}

/** A model version's monitoring row, locked for this transaction. */
export interface LockedState {
  key: ModelKey;
  /** Bumped by every transaction that saved the state (tells whether a cached window is current). */
  seq: number;
  /** The stored JSON (validated by the stage). */
  state: unknown;
}

/** A conversion key or click mapping extracted from a label-carrying event. */
export interface LabelRows {
  conversionKeys: {
    tenant: string;
    kind: "prediction" | "click";
    key: string;
    eventName: string;
    eventId: string;
    eventTimeMs: number;
  }[];
  clickMappings: { tenant: string; predictionId: string; clickId: string }[];
}

export interface StoredDriftResult {
  key: ModelKey;
  evaluationId: string | undefined;
  window: EvaluatedWindow;
  row: DriftResultRow;
}

export interface StoredPerformanceResult {
  key: ModelKey;
  result: PerformanceResult;
  details: Record<string, unknown>;
  /**
   * True for an open window (its attribution period has not ended): labels so far, replaced by
   * the final result at maturity. A final result is never replaced.
   */
  provisional?: boolean;
}

/** A tenant's stored monitoring settings (model '' = every model of the tenant). */
export interface StoredOverrides {
  tenant: string;
  model: string;
  revision: number;
  /** The JSON as stored (validated by the Worker when written; parsed again by the stage). */
  overrides: unknown;
}

/** Everything the stage does in the batch's transaction. */
export interface MonitoringTransaction {
  /** Creates missing state rows with `initial`, then locks every key's row, in key order. */
  lockStates(keys: readonly ModelKey[], initial: ModelMonitorState): Promise<LockedState[]>;
  /** Keys of these tenants with hourly or performance work due at the tenant's watermark (epoch ms). */
  dueKeys(watermarkMs: ReadonlyMap<string, number>): Promise<ModelKey[]>;
  /**
   * Keys of these tenants with open performance windows whose provisional results were last
   * written at or before `notSinceMs` (processing time), or never.
   */
  provisionalKeys(tenants: readonly string[], notSinceMs: number): Promise<ModelKey[]>;
  /** The stream's newest trusted event time per tenant (event_time_watermarks), epoch ms. */
  maxEventTimes(tenants: readonly string[]): Promise<Map<string, number>>;
  /** The `limit` most recent stored predictions of a version, oldest first. */
  recentPredictions(key: ModelKey, limit: number): Promise<WindowRow[]>;
  /** Stores predictions not stored before; returns `${tenant}\u0000${predictionId}` of the new ones. */
  insertPredictions(rows: readonly PredictionRow[]): Promise<Set<string>>;
  /**
   * Stores conversion keys and click mappings; labels predictions named directly by a conversion
   * within their attribution window as positive right away.
   */
  recordLabels(rows: LabelRows, attributionWindowMs: number): Promise<void>;
  /**
   * Gives every still unlabelled prediction of `tenant` made at or before `maturedAtMs` its final
   * label: positive when a conversion (by prediction id or by a mapped click id) happened within
   * the attribution window, negative otherwise. Returns how many were labelled.
   */
  resolveLabels(tenant: string, maturedAtMs: number, attributionWindowMs: number): Promise<number>;
  /** Stored predictions of a version scored in [startMs, endMs), at most `maxRows` (a fixed subsample). */
  predictionsBetween(
    key: ModelKey,
    startMs: number,
    endMs: number,
    maxRows: number,
  ): Promise<WindowRow[]>;
  /** Scores and final labels (1/0) of a version's predictions scored in [startMs, endMs). */
  labelledBetween(
    key: ModelKey,
    startMs: number,
    endMs: number,
  ): Promise<{ scores: number[]; labels: number[]; unlabelled: number }>;
  /**
   * Scores and labels as known now of a version's predictions scored at or after `fromMs`
   * (the open windows): 1 when a conversion by prediction id or mapped click id happened within
   * the attribution window so far, else 0 (final negatives and not converted yet alike).
   */
  labelsSoFarFrom(
    key: ModelKey,
    fromMs: number,
    attributionWindowMs: number,
  ): Promise<{ scores: number[]; labels: number[]; predictedAtMs: number[] }>;
  /** Removes a provisional result of a window that matured without a final one. */
  deleteProvisionalPerformance(key: ModelKey, startMs: number, endMs: number): Promise<void>;
  /** Scoring time of the version's first stored prediction at or after `ms` (undefined: none). */
  firstPredictionFrom(key: ModelKey, ms: number): Promise<number | undefined>;
  /** Time of the latest retraining request of the model (any version), epoch ms. */
  lastRetrainRequestAt(tenant: string, model: string): Promise<number | undefined>;
  saveState(key: ModelKey, state: ModelMonitorState, nextDueMs: number | undefined): Promise<void>;
  insertDriftResults(rows: readonly StoredDriftResult[]): Promise<void>;
  insertPerformanceResults(rows: readonly StoredPerformanceResult[]): Promise<void>;
  /**
   * Stores alerts not stored before and queues their deliveries (Kafka, the tenant's subscribed
   * webhook endpoints, every operator sink); returns how many were new.
   */
  insertAlerts(alerts: readonly Alert[], operatorSinks: readonly string[]): Promise<number>;
  /** Stores requests not stored before and queues their publication; returns how many were new. */
  insertRetrainRequests(requests: readonly RetrainRequest[], nowMs: number): Promise<number>;
  /** The stored monitoring settings of these tenants (tenant-wide and per model). */
  monitoringOverrides(tenants: readonly string[]): Promise<StoredOverrides[]>;
  /** The registered manifest of a version (with its frozen reference), if model_versions has it. */
  loadManifest(key: ModelKey): Promise<unknown | undefined>;
}

/** Opens monitoring's repository on a batch transaction: its writes commit with the batch. */
export type OpenMonitoring = (tx: BatchTransaction) => MonitoringTransaction;
