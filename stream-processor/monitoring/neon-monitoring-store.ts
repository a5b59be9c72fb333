/** MonitoringTransaction on Postgres (set-based SQL over the Neon serverless driver, or any pg-compatible connection). */

import type { Alert, ModelMonitorState, RetrainRequest, WindowRow } from "#core/monitoring";
import { NeonAlertQueue } from "../alerts/neon-alert-queue";
import { type Queryable, type QueryTimer, scopedQuery, timedStatement } from "../db/timed-query";
import type {
  LabelRows,
  LockedState,
  ModelKey,
  MonitoringTransaction,
  OpenMonitoring,
  PredictionRow,
  StoredDriftResult,
  StoredOverrides,
  StoredPerformanceResult,
} from "./monitoring-store";
import { NeonMonitoringResults } from "./neon-monitoring-results";
import { NeonMonitoringStates } from "./neon-monitoring-states";
import { NeonPredictionLabels } from "./neon-prediction-labels";

type Timer = QueryTimer;

/** Opens monitoring's repository on a batch transaction's connection. */
export function openNeonMonitoring(timer: Timer = () => {}): OpenMonitoring {
  return (tx) => new NeonMonitoringTransaction(tx.sql, timer);
}

/**
 * The transaction-scoped store: every statement runs on the batch's own connection. The SQL is
 * kept by table group (states, predictions and labels, results, the alert queue); this class
 * only hands each call to its group.
 */
export class NeonMonitoringTransaction implements MonitoringTransaction {
  private readonly states: NeonMonitoringStates;
  private readonly predictions: NeonPredictionLabels;
  private readonly results: NeonMonitoringResults;
  private readonly queue: NeonAlertQueue;

  constructor(db: Queryable, timer: Timer = () => {}) {
    const run = scopedQuery(db, timer, "monitoring");
    this.states = new NeonMonitoringStates(run);
    this.predictions = new NeonPredictionLabels(run);
    this.results = new NeonMonitoringResults(run);
    // The webhook plan names its own statement; it is timed like the rest of monitoring's.
    const planning: Queryable = {
      query: <R>(c: { name?: string; text: string; values?: unknown[] }) =>
        timedStatement<R>(
          db,
          timer,
          "monitoring_plan_webhooks",
          { name: c.name ?? "driftline_monitoring_plan_webhooks", text: c.text },
          c.values,
        ),
    };
    this.queue = new NeonAlertQueue(run, planning);
  }

  lockStates(keys: readonly ModelKey[], initial: ModelMonitorState): Promise<LockedState[]> {
    return this.states.lockStates(keys, initial);
  }

  dueKeys(watermarkMs: ReadonlyMap<string, number>): Promise<ModelKey[]> {
    return this.states.dueKeys(watermarkMs);
  }

  provisionalKeys(tenants: readonly string[], notSinceMs: number): Promise<ModelKey[]> {
    return this.states.provisionalKeys(tenants, notSinceMs);
  }

  maxEventTimes(tenants: readonly string[]): Promise<Map<string, number>> {
    return this.states.maxEventTimes(tenants);
  }

  saveState(key: ModelKey, state: ModelMonitorState, nextDueMs: number | undefined): Promise<void> {
    return this.states.saveState(key, state, nextDueMs);
  }

  monitoringOverrides(tenants: readonly string[]): Promise<StoredOverrides[]> {
    return this.states.monitoringOverrides(tenants);
  }

  lastRetrainRequestAt(tenant: string, model: string): Promise<number | undefined> {
    return this.states.lastRetrainRequestAt(tenant, model);
  }

  loadManifest(key: ModelKey): Promise<unknown | undefined> {
    return this.states.loadManifest(key);
  }

  recentPredictions(key: ModelKey, limit: number): Promise<WindowRow[]> {
    return this.predictions.recentPredictions(key, limit);
  }

  insertPredictions(rows: readonly PredictionRow[]): Promise<Set<string>> {
    return this.predictions.insertPredictions(rows);
  }

  recordLabels(rows: LabelRows, attributionWindowMs: number): Promise<void> {
    return this.predictions.recordLabels(rows, attributionWindowMs);
  }

  resolveLabels(tenant: string, maturedAtMs: number, attributionWindowMs: number): Promise<number> {
    return this.predictions.resolveLabels(tenant, maturedAtMs, attributionWindowMs);
  }

  predictionsBetween(
    key: ModelKey,
    startMs: number,
    endMs: number,
    maxRows: number,
  ): Promise<WindowRow[]> {
    return this.predictions.predictionsBetween(key, startMs, endMs, maxRows);
  }

  labelledBetween(
    key: ModelKey,
    startMs: number,
    endMs: number,
  ): Promise<{ scores: number[]; labels: number[]; unlabelled: number }> {
    return this.predictions.labelledBetween(key, startMs, endMs);
  }

  labelsSoFarFrom(
    key: ModelKey,
    fromMs: number,
    attributionWindowMs: number,
  ): Promise<{ scores: number[]; labels: number[]; predictedAtMs: number[] }> {
    return this.predictions.labelsSoFarFrom(key, fromMs, attributionWindowMs);
  }

  firstPredictionFrom(key: ModelKey, fromMs: number): Promise<number | undefined> {
    return this.predictions.firstPredictionFrom(key, fromMs);
  }

  insertDriftResults(rows: readonly StoredDriftResult[]): Promise<void> {
    return this.results.insertDriftResults(rows);
  }

  insertPerformanceResults(rows: readonly StoredPerformanceResult[]): Promise<void> {
    return this.results.insertPerformanceResults(rows);
  }

  deleteProvisionalPerformance(key: ModelKey, startMs: number, endMs: number): Promise<void> {
    return this.results.deleteProvisionalPerformance(key, startMs, endMs);
  }

  insertAlerts(alerts: readonly Alert[], operatorSinks: readonly string[]): Promise<number> {
    return this.queue.insertAlerts(alerts, operatorSinks);
  }

  insertRetrainRequests(requests: readonly RetrainRequest[], nowMs: number): Promise<number> {
    return this.queue.insertRetrainRequests(requests, nowMs);
  }
}
