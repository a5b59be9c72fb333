/** The anomaly stage of a batch: feeds the minute windows the watermark closed to each series' detector, stores state, anomalies and alerts in the batch's transaction. */
import type { Logger } from "pino";
import {
  type AnomalyEvidence,
  anomalyCloudEvent,
  anomalyId,
  createDetector,
  type Detector,
  type DetectorPoint,
} from "#core/anomaly";
import { ALERT_TYPES } from "#core/monitoring";
import { MINUTE_MS } from "#core/windows";
import type { QueuedAlert } from "../alerts/neon-alert-queue";
import type { BatchStage, StageRecord } from "../batch/batch-stage";
import type { BatchTransaction } from "../batch/batch-transaction";
import type {
  AnomalyTransaction,
  AnomalyUpdate,
  DetectedAnomaly,
  OpenAnomalies,
  SeriesWrite,
  TenantProgress,
  TenantRange,
} from "./anomaly-store";
import {
  isCountMetric,
  isRetirableMetric,
  KPI_METRICS,
  type KpiMetric,
  type MinuteRow,
  type OutcomeRow,
  PREDICTIONS_SOURCE,
  type ScoreRow,
  seriesPointsOf,
} from "./kpi-series";

export interface AnomalyStageConfig {
  /** Most series a tenant's detectors hold; new ones past it are refused and counted. */
  maxSeriesPerTenant: number;
  /** Minute windows evaluated per tenant and batch at most, so a long backlog catches up over batches. */
  maxMinutesPerBatch: number;
  /** Detector states are written to Postgres every this many closed minutes (and on every state change). */
  checkpointMinutes: number;
  /** Most series whose detectors are held in memory across tenants (least recently used go first). */
  maxCachedSeries: number;
  /**
   * An event name or campaign series without data this long is retired: its state is removed
   * (an anomaly open on it is resolved) and its slot under the cap is free again.
   */
  retireAfterMs: number;
  /** The tenant watermark is the newest trusted event time minus this (the pipeline's setting). */
  allowedLatenessMs: number;
  /** CloudEvents `source` of the alerts. */
  alertSource: string;
  /** Operator sink URLs every tenant's alerts also go to. */
  operatorSinks: readonly string[];
}

/** What the stage reports for metrics. */
export interface AnomalyObserver {
  evaluated(minutes: number, updates: number): void;
  changed(kind: "detected" | "resolved", metric: KpiMetric): void;
  retired(metric: KpiMetric, count: number): void;
  seriesOverflowed(tenant: string, refused: number): void;
}

interface LiveSeries {
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

/** What one batch's evaluation stores, gathered over its tenants. */
interface Outcome {
  detected: DetectedAnomaly[];
  /** By tenant and anomaly id. */
  updates: Map<string, AnomalyUpdate>;
  alerts: QueuedAlert[];
  writes: SeriesWrite[];
  /** Series retired, deleted with the checkpoint their tenant writes in this batch. */
  retired: { tenant: string; key: string; metric: KpiMetric }[];
}

/** A tenant's detectors held between batches, and the progress they stand for. */
interface CachedTenant extends TenantProgress {
  series: Map<string, LiveSeries>;
}

/**
 * Detector state lives in memory between batches and is checkpointed to Postgres every
 * `checkpointMinutes` closed minutes (not every batch: a tenant's states are kilobytes per series).
 * The cache is used only when the locked progress row says nothing moved since this process
 * wrote it; otherwise (a rolled-back batch, a restart, another instance) the checkpoint is
 * loaded and the minutes after it are replayed from metric_windows. A replay detects the same
 * anomalies at the same minutes, with the same ids, so storing them again changes nothing: no
 * alert is lost and none is repeated.
 */
export class AnomalyStage implements BatchStage {
  /** Least recently used first. */
  private readonly cache = new Map<string, CachedTenant>();
  private cachedSeries = 0;

  constructor(
    private readonly deps: {
      config: AnomalyStageConfig;
      open: OpenAnomalies;
      log: Logger;
      observer?: AnomalyObserver;
    },
  ) {}

  async apply(tx: BatchTransaction, records: readonly StageRecord[]): Promise<void> {
    const tenants = [...new Set(records.map((r) => r.observation.tenant))].sort();
    if (tenants.length === 0) return;
    const store = this.deps.open(tx);
    const newest = await store.maxEventTimes(tenants);
    // Minutes [s, s + 1 min) with s + 1 min ≤ watermark are closed: s < closedBefore.
    const closedBefore = new Map<string, number>();
    for (const tenant of tenants) {
      const max = newest.get(tenant);
      if (max === undefined) continue;
      const end = Math.floor((max - this.deps.config.allowedLatenessMs) / MINUTE_MS) * MINUTE_MS;
      // Nothing newly closed for a tenant this process evaluated up to `end`: no statement at all.
      const cached = this.cache.get(tenant);
      if (cached === undefined || cached.evaluatedBeforeMs < end) closedBefore.set(tenant, end);
    }
    if (closedBefore.size === 0) return;
    await this.evaluate(store, closedBefore);
  }

  /** Feeds each due tenant's newly closed minutes to its series, then stores everything at once. */
  private async evaluate(
    store: AnomalyTransaction,
    closedBefore: Map<string, number>,
  ): Promise<void> {
    const { config, log, observer } = this.deps;
    const progress = await store.lockProgress([...closedBefore.keys()]);
    const work: { range: TenantRange; progress: TenantProgress; cached?: CachedTenant }[] = [];
    const toLoad: string[] = [];
    for (const [tenant, end] of closedBefore) {
      const p = progress.get(tenant);
      if (p === undefined) continue;
      let cached = this.cache.get(tenant);
      if (
        cached !== undefined &&
        (cached.evaluatedBeforeMs !== p.evaluatedBeforeMs ||
          cached.stateThroughMs !== p.stateThroughMs)
      ) {
        this.evict(tenant);
        cached = undefined;
      }
      // From the cache: the minutes not evaluated yet. From the checkpoint: replay what followed it.
      const from = cached === undefined ? p.stateThroughMs : p.evaluatedBeforeMs;
      const to = Math.min(end, from + config.maxMinutesPerBatch * MINUTE_MS);
      if (to <= from) continue;
      if (cached === undefined) toLoad.push(tenant);
      work.push({
        range: { tenant, fromMs: from, toMs: to },
        progress: p,
        ...(cached ? { cached } : {}),
      });
    }
    if (work.length === 0) return;
    const ranges = work.map((w) => w.range);
    const rowsByTenant = await store.minuteRows(ranges);
    const outcomesByTenant = await store.minuteOutcomes(ranges);
    // Scores are read only where the windows counted predictions (most tenants score nothing).
    const scoresByTenant = await store.minuteScores(
      ranges.filter((r) =>
        (rowsByTenant.get(r.tenant) ?? []).some(
          (row) => row.source === PREDICTIONS_SOURCE && row.predictionCount > 0,
        ),
      ),
    );
    const loaded = new Map<string, Map<string, LiveSeries>>();
    for (const s of await store.loadSeries(toLoad)) {
      const options = KPI_METRICS[s.metric];
      if (options === undefined) continue;
      let detector: Detector;
      try {
        detector = createDetector(options, s.state);
      } catch (error) {
        log.warn(
          { tenant: s.tenant, series: s.key, err: error },
          "detector state unreadable; starting it over",
        );
        detector = createDetector(options);
      }
      const map = loaded.get(s.tenant) ?? new Map<string, LiveSeries>();
      map.set(s.key, { ...s, detector, peak: 0, lastMinuteMs: 0 });
      loaded.set(s.tenant, map);
    }

    const out: Outcome = {
      detected: [],
      updates: new Map(),
      alerts: [],
      writes: [],
      retired: [],
    };
    const saved: (TenantProgress & { tenant: string; overflow: number })[] = [];
    const next: [string, CachedTenant][] = [];
    let minutes = 0;
    let points = 0;
    const checkpointMs = config.checkpointMinutes * MINUTE_MS;
    for (const { range, progress: p, cached } of work) {
      const series = cached?.series ?? loaded.get(range.tenant) ?? new Map<string, LiveSeries>();
      const result = this.evaluateTenant(
        range,
        p.evaluatedBeforeMs,
        series,
        {
          rows: rowsByTenant.get(range.tenant) ?? [],
          outcomes: outcomesByTenant.get(range.tenant) ?? [],
          scores: scoresByTenant.get(range.tenant) ?? [],
        },
        out,
      );
      const evaluatedBeforeMs = Math.max(p.evaluatedBeforeMs, range.toMs);
      let stateThroughMs = p.stateThroughMs;
      if (range.toMs - p.stateThroughMs >= checkpointMs || result.changed) {
        for (const s of series.values()) out.writes.push(seriesWrite(s));
        stateThroughMs = range.toMs;
      }
      saved.push({
        tenant: range.tenant,
        evaluatedBeforeMs,
        stateThroughMs,
        overflow: result.overflow,
      });
      // A replay cut short by maxMinutesPerBatch leaves the detectors behind evaluated_before:
      // not cached, the next batch replays on from the checkpoint.
      if (range.toMs >= p.evaluatedBeforeMs) {
        next.push([range.tenant, { evaluatedBeforeMs, stateThroughMs, series }]);
      }
      minutes += (range.toMs - range.fromMs) / MINUTE_MS;
      points += result.points;
      if (result.overflow > 0) {
        observer?.seriesOverflowed(range.tenant, result.refused);
        log.warn(
          { tenant: range.tenant, cap: config.maxSeriesPerTenant, refused: result.refused },
          `tenant reached its cap of ${config.maxSeriesPerTenant} anomaly series; new series are not watched`,
        );
      }
    }
    // A retired key that came back later in the range is written again, not deleted.
    const written = new Set(out.writes.map((w) => `${w.tenant}\u0000${w.key}`));
    const retired = out.retired.filter((r) => !written.has(`${r.tenant}\u0000${r.key}`));
    await store.deleteSeries(retired);
    await store.saveSeries(out.writes);
    await store.insertAnomalies(out.detected);
    await store.updateAnomalies([...out.updates.values()]);
    await store.saveProgress(saved);
    await store.insertAlerts(out.alerts, config.operatorSinks);
    // Cached as this transaction leaves them; should it roll back, the progress row will not
    // match and the next batch reloads and replays.
    for (const [tenant, entry] of next) this.remember(tenant, entry);
    observer?.evaluated(minutes, points);
    const retiredByMetric = new Map<KpiMetric, number>();
    for (const r of out.retired)
      retiredByMetric.set(r.metric, (retiredByMetric.get(r.metric) ?? 0) + 1);
    for (const [metric, n] of retiredByMetric) observer?.retired(metric, n);
  }

  private remember(tenant: string, entry: CachedTenant): void {
    this.evict(tenant);
    this.cache.set(tenant, entry);
    this.cachedSeries += entry.series.size;
    // Bounded memory: the least recently evaluated tenants go first (they reload when due).
    for (const [oldest] of this.cache) {
      if (this.cachedSeries <= this.deps.config.maxCachedSeries || oldest === tenant) break;
      this.evict(oldest);
    }
  }

  private evict(tenant: string): void {
    const entry = this.cache.get(tenant);
    if (entry === undefined) return;
    this.cachedSeries -= entry.series.size;
    this.cache.delete(tenant);
  }

  /** One tenant's closed minutes through its detectors (in memory); what to store goes to `out`. */
  private evaluateTenant(
    range: TenantRange,
    freshFromMs: number,
    series: Map<string, LiveSeries>,
    data: {
      rows: readonly MinuteRow[];
      outcomes: readonly OutcomeRow[];
      scores: readonly ScoreRow[];
    },
    out: Outcome,
  ): { points: number; overflow: number; refused: number; changed: boolean } {
    const { config } = this.deps;
    const { tenant, fromMs: from, toMs: to } = range;
    const rowsByMinute = byMinute(data.rows);
    const outcomesByMinute = byMinute(data.outcomes);
    const scoresByMinute = byMinute(data.scores);
    const refused = new Set<string>();
    let overflow = 0;
    let points = 0;
    let changed = false;
    for (let minute = from; minute < to; minute += MINUTE_MS) {
      const seen = new Set<string>();
      const feed = (s: LiveSeries, value: number) => {
        const p = s.detector.update({ t: minute, value });
        points += 1;
        s.last = p;
        s.lastMinuteMs = minute;
        if (p.change !== undefined) changed = true;
        if (s.openAnomaly !== null && p.score > s.peak) s.peak = p.score;
        if (p.change === "detected") this.opened(tenant, s, p, minute, out);
        else if (p.change === "resolved") this.resolved(tenant, s, p, minute, out);
        else if (s.openAnomaly !== null) {
          out.updates.set(`${tenant}\u0000${s.openAnomaly}`, {
            tenant,
            anomalyId: s.openAnomaly,
            peakScore: s.peak,
          });
        }
      };
      const minutePoints = seriesPointsOf(
        rowsByMinute.get(minute) ?? [],
        outcomesByMinute.get(minute) ?? [],
        scoresByMinute.get(minute) ?? [],
      );
      for (const point of minutePoints) {
        seen.add(point.key);
        let s = series.get(point.key);
        if (s === undefined) {
          if (series.size >= config.maxSeriesPerTenant) {
            // Replayed minutes were counted when first evaluated.
            if (minute >= freshFromMs) {
              overflow += 1;
              refused.add(point.key);
            }
            continue;
          }
          s = {
            tenant,
            key: point.key,
            metric: point.metric,
            dimensions: point.dimensions,
            detector: createDetector(KPI_METRICS[point.metric]),
            openAnomaly: null,
            peak: 0,
            lastMinuteMs: minute,
            lastDataMs: minute,
          };
          series.set(point.key, s);
        }
        // A count of zero is not data (a level always is): retirement counts from the last non-zero.
        if (point.value !== 0 || !isCountMetric(s.metric)) s.lastDataMs = minute;
        feed(s, point.value);
      }
      for (const s of series.values()) {
        if (seen.has(s.key)) continue;
        // Minute by minute, so a replay from a checkpoint retires at the same minute.
        if (isRetirableMetric(s.metric) && minute - s.lastDataMs >= config.retireAfterMs) {
          this.retire(tenant, s, minute, out);
          series.delete(s.key);
          changed = true;
          continue;
        }
        // A count series with no row in a closed minute counted nothing: a zero, not a gap.
        if (isCountMetric(s.metric)) feed(s, 0);
      }
    }
    return { points, overflow, refused: refused.size, changed };
  }

  /** Retires a series without data: an anomaly open on it is resolved at this minute. */
  private retire(tenant: string, s: LiveSeries, minute: number, out: Outcome): void {
    if (s.openAnomaly !== null && s.last !== undefined)
      this.resolved(tenant, s, s.last, minute, out);
    out.retired.push({ tenant, key: s.key, metric: s.metric });
  }

  private evidence(s: LiveSeries, p: DetectorPoint, id: string, minute: number): AnomalyEvidence {
    return {
      anomalyId: id,
      series: { metric: s.metric, dimensions: s.dimensions },
      reason: p.reason ?? "spike",
      detectedAtMs: minute,
      windowStartMs: minute,
      windowMs: MINUTE_MS,
      observed: p.value,
      expected: p.expected,
      expectedRange: { lower: p.lower, upper: p.upper },
      score: p.score,
    };
  }

  private opened(
    tenant: string,
    s: LiveSeries,
    p: DetectorPoint,
    minute: number,
    out: Outcome,
  ): void {
    const id = anomalyId(s.key, minute);
    s.openAnomaly = id;
    s.peak = p.score;
    out.detected.push({
      tenant,
      anomalyId: id,
      key: s.key,
      metric: s.metric,
      dimensions: s.dimensions,
      reason: p.reason ?? "spike",
      detectedAtMs: minute,
      expected: p.expected,
      lower: p.lower,
      upper: p.upper,
      observed: p.value,
      score: p.score,
    });
    out.alerts.push(this.alert(tenant, s, this.evidence(s, p, id, minute), false));
    this.deps.observer?.changed("detected", s.metric);
  }

  private resolved(
    tenant: string,
    s: LiveSeries,
    p: DetectorPoint,
    minute: number,
    out: Outcome,
  ): void {
    const id = s.openAnomaly;
    s.openAnomaly = null;
    if (id === null) return; // state restored without its anomaly id (never written so)
    out.updates.set(`${tenant}\u0000${id}`, {
      tenant,
      anomalyId: id,
      peakScore: s.peak,
      resolvedAtMs: minute,
    });
    const detectedAtMs = Number.parseInt(id.split("-")[1] ?? "", 36);
    const evidence: AnomalyEvidence = {
      ...this.evidence(s, p, id, Number.isFinite(detectedAtMs) ? detectedAtMs : minute),
      windowStartMs: minute,
      resolvedAtMs: minute,
      peakScore: s.peak,
    };
    out.alerts.push(this.alert(tenant, s, evidence, true));
    this.deps.observer?.changed("resolved", s.metric);
  }

  private alert(
    tenant: string,
    s: LiveSeries,
    evidence: AnomalyEvidence,
    resolved: boolean,
  ): QueuedAlert {
    const cloudEvent = anomalyCloudEvent({
      tenant,
      evidence,
      resolved,
      source: this.deps.config.alertSource,
    });
    return {
      alertId: cloudEvent.id,
      tenant,
      type: resolved ? ALERT_TYPES.anomalyResolved : ALERT_TYPES.anomalyDetected,
      model: s.dimensions.model ?? null,
      version: null,
      cloudEvent,
      messageKey: `${tenant}:anomaly:${evidence.anomalyId}`,
    };
  }
}

function seriesWrite(s: LiveSeries): SeriesWrite {
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

function byMinute<R extends { windowStartMs: number }>(rows: readonly R[]): Map<number, R[]> {
  const out = new Map<number, R[]>();
  for (const r of rows) {
    const list = out.get(r.windowStartMs);
    if (list === undefined) out.set(r.windowStartMs, [r]);
    else list.push(r);
  }
  return out;
}
