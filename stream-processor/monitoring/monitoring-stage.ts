/** The monitoring stage of a batch: stores predictions and label signals, evaluates drift and performance, opens alerts and retraining requests, all in the batch's transaction. */
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import {
  type Alert,
  driftResultRows,
  type EvaluatedWindow,
  evaluateModelDrift,
  evaluatePerformance,
  initialMonitorState,
  type LabelSignal,
  type ModelDriftEvaluation,
  type ModelMonitorState,
  type ModelReference,
  type MonitorContext,
  type MonitoringSettings,
  monitoringId,
  observeDriftEvaluation,
  observePerformanceResult,
  PredictionWindow,
  type RetrainPolicy,
  type RetrainRequest,
  signalForConversions,
  type WindowRow,
} from "#core/monitoring";
import { HOUR_MS, windowStartMs } from "#core/windows";
import type { ModelReferenceSource } from "./model-reference-source";
import type {
  LabelRows,
  ModelKey,
  MonitoringTransaction,
  PredictionRow,
  StoredDriftResult,
  StoredPerformanceResult,
} from "./monitoring-store";
import { TenantSettings } from "./tenant-settings";

/** What one batch hands to monitoring. */
export interface MonitoringInput {
  predictions: readonly PredictionRow[];
  /** Label-carrying events (conversions with a prediction or click id, click mappings). */
  signals: readonly LabelSignal[];
  /** Every tenant with a record in the batch (their event time may have moved). */
  tenants?: Iterable<string>;
}

/** What monitoring reports for metrics (prom-client in monitoring-metrics.ts). */
export interface MonitoringObserver {
  evaluated(kind: "sliding" | "hourly" | "performance", durationMs: number): void;
  slidingDrift(key: ModelKey, evaluation: ModelDriftEvaluation): void;
  alerted(alerts: readonly Alert[]): void;
  retrainRequested(requests: readonly RetrainRequest[], suppressed: number): void;
  /** The version's sliding window left memory (evicted or unmonitored): its live series can go. */
  windowDropped?(key: ModelKey): void;
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

/** 256 MiB: 100 versions of 30 features at the default window of 2000 predictions take ~50 MiB. */
export const DEFAULT_WINDOW_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * What a window of `capacity` predictions over `columns` columns holds, bytes: one 8-byte slot
 * per value and one per scoring time, plus a fixed overhead. Categorical values are shared
 * strings (the column's few categories), so a slot is what they cost in the window.
 */
export function windowSizeBytes(capacity: number, columns: number): number {
  return 256 + capacity * (columns + 1) * 8;
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

/** Windows evaluated per version and batch at most, so a long-idle version catches up over batches. */
const MAX_WINDOWS_PER_BATCH = 1_000;

const keyId = (k: ModelKey) => `${k.tenant}\u0000${k.model}\u0000${k.version}`;

/**
 * Holds the sliding windows between batches (the durable truth is in Postgres: predictions and
 * monitoring_state). A cached window is used only when the locked state row's `seq` says no
 * other transaction changed the version since; otherwise it is re-read from `predictions`.
 * The cache is updated during the transaction: should it roll back, the stored `seq` stays
 * behind the cached one and the next batch re-reads, so a rolled-back batch leaves no trace.
 */
export class MonitoringStage {
  /**
   * Bounded in bytes: a processor serving many tenants and versions (retired ones included) keeps
   * only the recently active windows; a dropped one is rebuilt from `predictions` (one read of
   * the last `sliding.size` rows), which is what a restart does for every version anyway.
   */
  private readonly windows: LRUCache<string, CachedWindow>;

  private readonly tenantSettings: TenantSettings;

  constructor(private readonly deps: MonitoringStageDeps) {
    this.tenantSettings = new TenantSettings(deps.settings, deps.policy, deps.log);
    const maxBytes = deps.windowCacheBytes ?? DEFAULT_WINDOW_CACHE_BYTES;
    this.windows = new LRUCache<string, CachedWindow>({
      maxSize: maxBytes,
      // A window larger than the whole budget is still used for its batch, just not kept.
      maxEntrySize: maxBytes,
      sizeCalculation: (entry) =>
        Math.min(maxBytes, windowSizeBytes(entry.window.capacity, entry.window.columns.length)),
      dispose: (entry, _id, reason) => {
        // "set" replaces a stale window of the same version: its series stay.
        if (reason !== "set") deps.observer?.windowDropped?.(entry.key);
      },
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
      const id = keyId(key);
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
    for (const k of due) keys.set(keyId(k), k);
    const locked =
      keys.size === 0 ? [] : await tx.lockStates([...keys.values()], initialMonitorState());

    // 3. References and windows, read before this batch's predictions are stored.
    const prepared = [];
    for (const row of locked) {
      const reference = await this.deps.references.get(tx, row.key, nowMs);
      const window = await this.windowFor(tx, row.key, row.seq, reference);
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
    const drift: StoredDriftResult[] = [];
    const performanceRows: StoredPerformanceResult[] = [];
    const alerts: Alert[] = [];
    const requests: RetrainRequest[] = [];
    const lastRequest = new Map<string, number | undefined>();
    for (const p of prepared) {
      const { key, reference, window } = p;
      let state = p.state;
      const w = watermark.get(key.tenant);
      const modelId = `${key.tenant}\u0000${key.model}`;
      const own = batchSettings.forModel(key.tenant, key.model);
      if (!lastRequest.has(modelId)) {
        lastRequest.set(modelId, await tx.lastRetrainRequestAt(key.tenant, key.model));
      }
      const context = (): MonitorContext => ({
        ...key,
        settings: own.settings,
        policy: own.policy,
        trainedAtMs: reference?.trainedAtMs,
        baselineAuc: reference?.baselineAuc,
        nowMs,
        lastRetrainRequestedAtMs: lastRequest.get(modelId),
      });
      const take = (step: {
        state: ModelMonitorState;
        alerts: Alert[];
        requests: RetrainRequest[];
        suppressed: unknown[];
      }) => {
        state = step.state;
        alerts.push(...step.alerts);
        requests.push(...step.requests);
        summary.suppressed += step.suppressed.length;
        if (step.requests.length > 0) lastRequest.set(modelId, nowMs);
      };
      const monitored = reference !== undefined && reference.columns.length > 0;

      for (const row of byKey.get(keyId(key))?.rows ?? []) {
        if (!fresh.has(`${row.tenant}\u0000${row.predictionId}`)) continue;
        if (state.performanceCursorMs === undefined) {
          state.performanceCursorMs = windowStartMs(
            row.predictedAtMs,
            settings.performance.windowMs,
          );
        }
        if (!monitored || window === undefined) continue;
        window.push(row);
        state.sinceEvaluation += 1;
        if (settings.hourly.enabled) {
          const h = windowStartMs(row.predictedAtMs, HOUR_MS);
          if (
            h >= (state.hourlyClosedBeforeMs ?? Number.NEGATIVE_INFINITY) &&
            !state.openHours.includes(h)
          ) {
            state.openHours.push(h);
          }
        }
        if (
          window.size >= settings.sliding.minSample &&
          state.sinceEvaluation >= settings.sliding.stride
        ) {
          const started = performance.now();
          const range = window.timeRange() as { startMs: number; endMs: number };
          const evaluation = evaluateModelDrift(
            reference,
            (c) => window.columnValues(c.name),
            { kind: "sliding", startMs: range.startMs, endMs: range.endMs + 1, size: window.size },
            own.settings.drift,
          );
          const step = observeDriftEvaluation(
            { ...state, sinceEvaluation: 0 },
            evaluation,
            context(),
          );
          take(step);
          summary.slidingEvaluations += 1;
          for (const r of driftResultRows(evaluation)) {
            drift.push({ key, evaluationId: step.evaluationId, window: evaluation.window, row: r });
          }
          this.deps.observer?.slidingDrift(key, evaluation);
          this.deps.observer?.evaluated("sliding", performance.now() - started);
        }
      }

      if (w !== undefined && monitored && settings.hourly.enabled) {
        const closing = state.openHours.filter((h) => h + HOUR_MS <= w).sort((a, b) => a - b);
        for (const h of closing.slice(0, MAX_WINDOWS_PER_BATCH)) {
          const started = performance.now();
          const rows = await tx.predictionsBetween(key, h, h + HOUR_MS, settings.hourly.maxRows);
          if (rows.length > 0) {
            const hourWindow: EvaluatedWindow = {
              kind: "hourly",
              startMs: h,
              endMs: h + HOUR_MS,
              size: rows.length,
            };
            const evaluation = evaluateRows(reference, rows, hourWindow, own.settings);
            const evaluationId = monitoringId("evaluation", key, 0, `hourly:${h}`);
            for (const r of driftResultRows(evaluation)) {
              drift.push({ key, evaluationId, window: hourWindow, row: r });
            }
            summary.hourlyEvaluations += 1;
            this.deps.observer?.evaluated("hourly", performance.now() - started);
          }
          state.openHours = state.openHours.filter((x) => x !== h);
          state.hourlyClosedBeforeMs = Math.max(
            state.hourlyClosedBeforeMs ?? Number.NEGATIVE_INFINITY,
            h + HOUR_MS,
          );
        }
      }

      if (w !== undefined && state.performanceCursorMs !== undefined) {
        const width = settings.performance.windowMs;
        const maturedAt = w - attribution;
        for (
          let i = 0;
          i < MAX_WINDOWS_PER_BATCH && state.performanceCursorMs + width <= maturedAt;
          i++
        ) {
          const start: number = state.performanceCursorMs;
          const started = performance.now();
          const labelled = await tx.labelledBetween(key, start, start + width);
          if (labelled.scores.length > 0) {
            const result = evaluatePerformance(
              { startMs: start, endMs: start + width },
              labelled.scores,
              labelled.labels,
              settings.performance,
            );
            if (result.kind === "evaluated") {
              performanceRows.push({
                key,
                result,
                details: {
                  attributionWindowMs: attribution,
                  baselineAuc: reference?.baselineAuc ?? state.observedBaselineAuc ?? null,
                  unlabelled: labelled.unlabelled,
                },
              });
              take(observePerformanceResult(state, result, context()));
              summary.performanceResults += 1;
              this.deps.observer?.evaluated("performance", performance.now() - started);
            } else {
              log.debug(
                { ...key, window: result.window, sampleSize: result.sampleSize },
                "too few labelled predictions for a performance result",
              );
            }
          }
          if (!performanceRows.some((r) => r.key === key && r.result.window.startMs === start)) {
            // Matured without a final result: a provisional one must not stay as if it were.
            await tx.deleteProvisionalPerformance(key, start, start + width);
          }
          // Next window with predictions in it (skipping empty stretches in one step).
          const next = await tx.firstPredictionFrom(key, start + width);
          state.performanceCursorMs =
            next === undefined
              ? Math.max(start + width, windowStartMs(maturedAt, width))
              : Math.max(start + width, windowStartMs(next, width));
        }
      }

      // Open windows: results from the labels so far, at most every provisionalIntervalMs, when
      // this batch brought conversions of the tenant or new predictions of the version.
      const touched =
        signalTenants.has(key.tenant) ||
        (byKey.get(keyId(key))?.rows ?? []).some((r) =>
          fresh.has(`${r.tenant}\u0000${r.predictionId}`),
        );
      if (
        interval > 0 &&
        touched &&
        state.performanceCursorMs !== undefined &&
        nowMs - (state.provisionalAtMs ?? Number.NEGATIVE_INFINITY) >= interval
      ) {
        const started = performance.now();
        const provisional = await this.provisionalResults(
          tx,
          key,
          state.performanceCursorMs,
          reference?.baselineAuc ?? state.observedBaselineAuc ?? null,
        );
        performanceRows.push(...provisional);
        summary.provisionalResults += provisional.length;
        state.provisionalAtMs = nowMs;
        if (provisional.length > 0)
          this.deps.observer?.evaluated("performance", performance.now() - started);
      }

      const dueCandidates = [
        ...(monitored && settings.hourly.enabled && state.openHours.length > 0
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
      // peek: saving the state is no use of the window, so it does not refresh its recency.
      const cached = this.windows.peek(keyId(key));
      if (cached !== undefined && cached.window === window) cached.seq = p.seq + 1;
    }

    // 6. Results, alerts (with their deliveries) and retraining requests.
    await tx.insertDriftResults(drift);
    await tx.insertPerformanceResults(performanceRows);
    summary.alerts = await tx.insertAlerts(alerts, this.deps.operatorSinks);
    summary.retrainRequests = await tx.insertRetrainRequests(requests, nowMs);
    this.deps.observer?.alerted(alerts);
    this.deps.observer?.retrainRequested(requests, summary.suppressed);
    return summary;
  }

  /**
   * Results of the version's open windows (scored at or after `fromMs`, attribution not ended)
   * from the labels known now; windows with fewer than `minSample` predictions get none.
   */
  private async provisionalResults(
    tx: MonitoringTransaction,
    key: ModelKey,
    fromMs: number,
    baselineAuc: number | null,
  ): Promise<StoredPerformanceResult[]> {
    const { performance: perf, labels: lab } = this.deps.settings;
    const soFar = await tx.labelsSoFarFrom(key, fromMs, lab.attributionWindowMs);
    const windows = new Map<number, { scores: number[]; labels: number[] }>();
    for (let i = 0; i < soFar.scores.length; i++) {
      const start = windowStartMs(soFar.predictedAtMs[i] as number, perf.windowMs);
      const w = windows.get(start) ?? { scores: [], labels: [] };
      w.scores.push(soFar.scores[i] as number);
      w.labels.push(soFar.labels[i] as number);
      windows.set(start, w);
    }
    const out: StoredPerformanceResult[] = [];
    for (const [start, w] of [...windows].sort((a, b) => a[0] - b[0])) {
      const result = evaluatePerformance(
        { startMs: start, endMs: start + perf.windowMs },
        w.scores,
        w.labels,
        perf,
      );
      if (result.kind !== "evaluated") continue;
      out.push({
        key,
        result,
        provisional: true,
        details: {
          attributionWindowMs: lab.attributionWindowMs,
          baselineAuc,
          // Not converted yet counts as 0 until the window matures.
          labelledSoFar: true,
        },
      });
    }
    return out;
  }

  /** The version's sliding window: the cached one when current, else re-read from Postgres. */
  private async windowFor(
    tx: MonitoringTransaction,
    key: ModelKey,
    seq: number,
    reference: ModelReference | undefined,
  ): Promise<PredictionWindow | undefined> {
    const id = keyId(key);
    if (reference === undefined || reference.columns.length === 0) {
      this.windows.delete(id);
      return undefined;
    }
    const columns = JSON.stringify(reference.windowColumns);
    const cached = this.windows.get(id);
    if (cached !== undefined && cached.seq === seq && cached.columns === columns) {
      cached.seq = -1; // dirty until this transaction saves the state (see the class comment)
      return cached.window;
    }
    const size = this.deps.settings.sliding.size;
    const window = new PredictionWindow(reference.windowColumns, size);
    for (const row of await tx.recentPredictions(key, size)) window.push(row);
    this.windows.set(id, { key, seq: -1, columns, window });
    return window;
  }
}

interface CachedWindow {
  key: ModelKey;
  /** The state row's `seq` this window matches; -1 while a transaction is using it. */
  seq: number;
  /** The reference's window columns (JSON), so a changed reference rebuilds the window. */
  columns: string;
  window: PredictionWindow;
}

/** Drift of stored rows (an hour) without keeping a sliding window for them. */
function evaluateRows(
  reference: ModelReference,
  rows: readonly WindowRow[],
  window: EvaluatedWindow,
  settings: MonitoringSettings,
): ModelDriftEvaluation {
  const w = new PredictionWindow(reference.windowColumns, Math.max(1, rows.length));
  for (const r of rows) w.push(r);
  return evaluateModelDrift(reference, (c) => w.columnValues(c.name), window, settings.drift);
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

/** The stored state, or a fresh one (logged) when it is missing or of an unknown shape. */
function parseState(raw: unknown, log: Logger, key: ModelKey): ModelMonitorState {
  const initial = initialMonitorState();
  if (
    raw !== null &&
    typeof raw === "object" &&
    (raw as { schemaVersion?: unknown }).schemaVersion === 1
  ) {
    const s = { ...initial, ...(raw as Partial<ModelMonitorState>) };
    if (Array.isArray(s.openHours) && typeof s.drift === "object" && s.drift !== null) return s;
  }
  log.warn({ ...key }, "monitoring state has an unknown shape; starting it over");
  return initial;
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
