/** The monitoring stage of a batch: stores predictions and label signals, evaluates drift and performance, opens alerts and retraining requests, all in the batch's transaction. */
import type { Logger } from "pino";
import {
  initialMonitorState,
  type LabelSignal,
  type MonitoringSettings,
  type RetrainPolicy,
  signalForConversions,
} from "#core/monitoring";
import { HOUR_MS } from "#core/windows";
import { closeHours, slideWindow } from "./drift-evaluation";
import type { ModelReferenceSource } from "./model-reference-source";
import type { MonitoringObserver } from "./monitoring-observer";
import type { LabelRows, ModelKey, MonitoringTransaction, PredictionRow } from "./monitoring-store";
import { evaluateMaturedWindows, evaluateOpenWindows } from "./performance-evaluation";
import { DEFAULT_WINDOW_CACHE_BYTES, modelKeyId, SlidingWindowCache } from "./sliding-window-cache";
import { TenantSettings } from "./tenant-settings";
import { BatchOutcome, type PreparedVersion, parseState } from "./version-run";

/** What one batch hands to monitoring. */
export interface MonitoringInput {
  predictions: readonly PredictionRow[];
  /** Label-carrying events (conversions with a prediction or click id, click mappings). */
  signals: readonly LabelSignal[];
  /** Every tenant with a record in the batch (their event time may have moved). */
  tenants?: Iterable<string>;
}

export interface MonitoringStageDeps {
  /**
   * The operator's settings (MONITORING_*). A tenant's stored settings (monitoring_settings) are
   * layered over them per batch; the windows, attribution and performance windows stay these.
   */
  settings: MonitoringSettings;
  /** The retraining policy of the operator's settings. */
  policy: RetrainPolicy;
  references: ModelReferenceSource;
  /** The tenant watermark is the newest trusted event time minus this (the pipeline's setting). */
  allowedLatenessMs: number;
  /** Event times further ahead of the clock than this do not move the watermark. */
  maxFutureSkewMs: number;
  /** Operator sink URLs every tenant's alerts are delivered to (besides the tenant's endpoints). */
  operatorSinks: readonly string[];
  log: Logger;
  observer?: MonitoringObserver;
  /**
   * Memory the sliding windows kept between batches may take, bytes (estimated; see
   * `windowSizeBytes`). Past it the least recently used version's window is dropped and re-read
   * from Postgres when that version is next seen. Default `DEFAULT_WINDOW_CACHE_BYTES`.
   */
  windowCacheBytes?: number;
}

export interface MonitoringBatchSummary {
  predictions: number;
  /** Predictions not stored before (duplicates are never counted twice). */
  fresh: number;
  signals: number;
  labelsResolved: number;
  slidingEvaluations: number;
  hourlyEvaluations: number;
  performanceResults: number;
  /** Provisional results written for open windows. */
  provisionalResults: number;
  alerts: number;
  retrainRequests: number;
  /** Retraining policies that fired during a cooldown. */
  suppressed: number;
  /**
   * Predictions scored in a performance window that was already evaluated (they arrived later
   * than the allowed lateness): labelled, but not in that window's result.
   */
  late: number;
}

/** A summary with nothing counted yet. */
export const EMPTY_MONITORING_SUMMARY: Readonly<MonitoringBatchSummary> = Object.freeze({
  predictions: 0,
  fresh: 0,
  signals: 0,
  labelsResolved: 0,
  slidingEvaluations: 0,
  hourlyEvaluations: 0,
  performanceResults: 0,
  provisionalResults: 0,
  alerts: 0,
  retrainRequests: 0,
  suppressed: 0,
  late: 0,
});

/**
 * Runs monitoring for one batch. The sliding windows are kept between batches (see
 * `SlidingWindowCache`); everything durable is written in the batch's transaction.
 */
export class MonitoringStage {
  private readonly windows: SlidingWindowCache;

  private readonly tenantSettings: TenantSettings;

  constructor(private readonly deps: MonitoringStageDeps) {
    this.tenantSettings = new TenantSettings(deps.settings, deps.policy, deps.log);
    this.windows = new SlidingWindowCache({
      maxBytes: deps.windowCacheBytes ?? DEFAULT_WINDOW_CACHE_BYTES,
      windowSize: deps.settings.sliding.size,
      onDropped: (key) => deps.observer?.windowDropped?.(key),
    });
  }

  /** Versions whose sliding window is held in memory. */
  get cachedWindows(): number {
    return this.windows.size;
  }

  async apply(
    tx: MonitoringTransaction,
    input: MonitoringInput,
    nowMs: number,
  ): Promise<MonitoringBatchSummary> {
    const { settings, log } = this.deps;
    const summary: MonitoringBatchSummary = {
      ...EMPTY_MONITORING_SUMMARY,
      predictions: input.predictions.length,
      signals: input.signals.length,
    };

    // 1. Each touched tenant's watermark: newest trusted event time − allowed lateness.
    const batchMax = new Map<string, number>();
    const horizonMs = nowMs + this.deps.maxFutureSkewMs;
    const see = (tenant: string, t: number) => {
      const trusted = Math.min(t, horizonMs);
      if (trusted > (batchMax.get(tenant) ?? Number.NEGATIVE_INFINITY))
        batchMax.set(tenant, trusted);
    };
    for (const p of input.predictions) see(p.tenant, p.predictedAtMs);
    for (const s of input.signals) see(s.tenant, s.eventTimeMs);
    const tenants = new Set<string>([...(input.tenants ?? []), ...batchMax.keys()]);
    if (tenants.size === 0) return summary;
    const stored = await tx.maxEventTimes([...tenants]);
    // Each tenant's settings as stored now: a change made through the API applies from here on.
    const batchSettings = this.tenantSettings.forBatch(await tx.monitoringOverrides([...tenants]));
    const watermark = new Map<string, number>();
    for (const t of tenants) {
      const newest = Math.max(
        stored.get(t) ?? Number.NEGATIVE_INFINITY,
        batchMax.get(t) ?? Number.NEGATIVE_INFINITY,
      );
      if (Number.isFinite(newest)) watermark.set(t, newest - this.deps.allowedLatenessMs);
    }

    // 2. Lock the versions with new predictions or due work, in key order.
    const byKey = new Map<string, { key: ModelKey; rows: PredictionRow[] }>();
    for (const p of input.predictions) {
      const key = { tenant: p.tenant, model: p.model, version: p.version };
      const id = modelKeyId(key);
      const entry = byKey.get(id) ?? { key, rows: [] };
      entry.rows.push(p);
      byKey.set(id, entry);
    }
    // Which events are conversions is the tenant's setting.
    const signals = input.signals.flatMap(
      (sig) => signalForConversions(sig, batchSettings.conversionsOf(sig.tenant)) ?? [],
    );
    const signalTenants = new Set(signals.map((sig) => sig.tenant));
    const due = await tx.dueKeys(watermark);
    const interval = settings.performance.provisionalIntervalMs;
    if (interval > 0 && signalTenants.size > 0) {
      // Conversions may label predictions of open windows: those versions get provisional results.
      due.push(...(await tx.provisionalKeys([...signalTenants], nowMs - interval)));
    }
    const keys = new Map<string, ModelKey>([...byKey].map(([id, e]) => [id, e.key]));
    for (const k of due) keys.set(modelKeyId(k), k);
    const locked =
      keys.size === 0 ? [] : await tx.lockStates([...keys.values()], initialMonitorState());

    // 3. References and windows, read before this batch's predictions are stored.
    const prepared: PreparedVersion[] = [];
    for (const row of locked) {
      const reference = await this.deps.references.get(tx, row.key, nowMs);
      const window = await this.windows.windowFor(tx, row.key, row.seq, reference);
      prepared.push({ ...row, state: parseState(row.state, log, row.key), reference, window });
    }

    // 4. Store predictions (only new ones go on) and label signals; final labels for matured ones.
    const fresh = await tx.insertPredictions(input.predictions);
    summary.fresh = fresh.size;
    if (signals.length > 0) {
      await tx.recordLabels(labelRows(signals), settings.labels.attributionWindowMs);
    }
    const attribution = settings.labels.attributionWindowMs;
    for (const tenant of new Set(locked.map((l) => l.key.tenant))) {
      const w = watermark.get(tenant);
      if (w !== undefined)
        summary.labelsResolved += await tx.resolveLabels(tenant, w - attribution, attribution);
    }

    // 5. Per version: sliding drift, hourly drift, performance, state.
    const outcome = new BatchOutcome(nowMs);
    for (const p of prepared) {
      const { key, window } = p;
      const w = watermark.get(key.tenant);
      const run = await outcome.startVersion(tx, p, batchSettings.forModel(key.tenant, key.model));
      const freshRows = (byKey.get(modelKeyId(key))?.rows ?? []).filter((r) =>
        fresh.has(`${r.tenant}\u0000${r.predictionId}`),
      );

      summary.slidingEvaluations += slideWindow(this.deps, run, freshRows, window, outcome);
      if (w !== undefined && run.monitored && settings.hourly.enabled) {
        summary.hourlyEvaluations += await closeHours(this.deps, tx, run, w, outcome);
      }
      if (w !== undefined) {
        summary.performanceResults += await evaluateMaturedWindows(this.deps, tx, run, w, outcome);
      }
      // Open windows: results from the labels so far, when this batch brought conversions of the
      // tenant or new predictions of the version.
      const touched = signalTenants.has(key.tenant) || freshRows.length > 0;
      summary.provisionalResults += await evaluateOpenWindows(
        this.deps,
        tx,
        run,
        touched,
        nowMs,
        outcome,
      );

      const { state } = run;
      const dueCandidates = [
        ...(run.monitored && settings.hourly.enabled && state.openHours.length > 0
          ? [Math.min(...state.openHours) + HOUR_MS]
          : []),
        ...(state.performanceCursorMs === undefined
          ? []
          : [state.performanceCursorMs + settings.performance.windowMs + attribution]),
      ];
      await tx.saveState(
        key,
        state,
        dueCandidates.length === 0 ? undefined : Math.min(...dueCandidates),
      );
      this.windows.saved(key, window, p.seq + 1);
    }

    // 6. Results, alerts (with their deliveries) and retraining requests.
    summary.suppressed = outcome.suppressed;
    await tx.insertDriftResults(outcome.drift);
    await tx.insertPerformanceResults(outcome.performance);
    summary.alerts = await tx.insertAlerts(outcome.alerts, this.deps.operatorSinks);
    summary.retrainRequests = await tx.insertRetrainRequests(outcome.requests, nowMs);
    this.deps.observer?.alerted(outcome.alerts);
    this.deps.observer?.retrainRequested(outcome.requests, summary.suppressed);
    return summary;
  }
}

function labelRows(signals: readonly LabelSignal[]): LabelRows {
  const rows: LabelRows = { conversionKeys: [], clickMappings: [] };
  for (const s of signals) {
    const event = {
      tenant: s.tenant,
      eventName: s.eventName,
      eventId: s.eventId,
      eventTimeMs: s.eventTimeMs,
    };
    if (s.conversion) {
      if (s.predictionId !== undefined)
        rows.conversionKeys.push({ ...event, kind: "prediction", key: s.predictionId });
      for (const c of s.clickIds) rows.conversionKeys.push({ ...event, kind: "click", key: c });
    }
    if (s.predictionId !== undefined) {
      for (const c of s.clickIds)
        rows.clickMappings.push({ tenant: s.tenant, predictionId: s.predictionId, clickId: c });
    }
  }
  return rows;
}

/** The stage as one function call (for callers that hold their own transaction). */
export function evaluateMonitoring(args: {
  deps: { stage: MonitoringStage; tx: MonitoringTransaction };
  predictions: readonly PredictionRow[];
  conversions: readonly LabelSignal[];
  tenants?: Iterable<string>;
  nowMs: number;
}): Promise<MonitoringBatchSummary> {
  return args.deps.stage.apply(
    args.deps.tx,
    {
      predictions: args.predictions,
      signals: args.conversions,
      ...(args.tenants ? { tenants: args.tenants } : {}),
    },
    args.nowMs,
  );
}
