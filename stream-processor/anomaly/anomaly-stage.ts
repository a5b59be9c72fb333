/** The anomaly stage of a batch: feeds the minute windows the watermark closed to each series' detector, stores state, anomalies and alerts in the batch's transaction. */
import type { Logger } from "pino";
import { createDetector, type Detector } from "#core/anomaly";
import { MINUTE_MS } from "#core/windows";
import type { BatchStage, DecodedMessage, StageRecord } from "../batch/batch-stage";
import type { BatchTransaction } from "../batch/batch-transaction";
import type {
  AnomalyTransaction,
  OpenAnomalies,
  PixelDelta,
  TenantProgress,
  TenantRange,
} from "./anomaly-store";
import { evaluateTenant, type TenantEvaluationContext } from "./evaluate-tenant";
import { KPI_METRICS, type KpiMetric, PREDICTIONS_SOURCE } from "./kpi-series";
import { type CachedTenant, emptyOutcome, type LiveSeries, seriesWrite } from "./live-series";

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
  /**
   * A tenant whose newest event time has not moved for this long (processing time) has its due
   * minutes closed by wall clock, as empty minutes. 0 = never.
   */
  idleCloseMs: number;
  /**
   * The wall-clock close applies only to a tenant whose newest event was counted within this of
   * its event time (live traffic): a replay of history is not extrapolated to the present.
   */
  idleMaxLagMs: number;
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

  /** Keeps the pixel, minute and match quality of a CAPI event (the per-pixel series); nothing else. */
  select(record: DecodedMessage): PixelPoint | undefined {
    if (record.kind !== "event") return undefined;
    const { pixelId, eventTimeMs, matchQuality } = record.message;
    if (pixelId === undefined || pixelId.length > MAX_PIXEL_CHARS) return undefined;
    return {
      pixel: pixelId,
      windowStartMs: Math.floor(eventTimeMs / MINUTE_MS) * MINUTE_MS,
      matchQuality: matchQuality?.score,
    };
  }

  async apply(tx: BatchTransaction, records: readonly StageRecord[]): Promise<void> {
    const tenants = [...new Set(records.map((r) => r.observation.tenant))].sort();
    if (tenants.length === 0) return;
    const store = this.deps.open(tx);
    // The batch's first-counted CAPI events per pixel and minute, before any minute is evaluated.
    await store.applyPixelDeltas(pixelDeltas(records));
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

  /**
   * The wall-clock close of silent tenants, in its own transaction `tx` (the caller's: the same
   * bookkeeping as a batch, the progress rows locked): a tenant whose newest event time has
   * stood still for `idleCloseMs` of processing time is taken to have sent nothing since, so its
   * event clock runs on with the wall clock from its newest event and the minutes that clock
   * closes (less the allowed lateness, as for events) are evaluated from the windows as they
   * are: empty, so its count series read zeros and a drop to zero fires. The caller runs it only
   * while the consumer has no backlog (a processor catching up is not a silent tenant). A
   * tenant silent for longer than `retireAfterMs` is left alone (its event series are retired
   * by then). Answers the tenants closed.
   */
  async closeIdle(tx: BatchTransaction, nowMs: number): Promise<number> {
    const { config } = this.deps;
    if (config.idleCloseMs <= 0) return 0;
    const store = this.deps.open(tx);
    const idle = await store.idleTenants({
      stillSinceMs: nowMs - config.idleCloseMs,
      silentSinceMs: nowMs - config.retireAfterMs,
      maxLagMs: config.idleMaxLagMs,
    });
    const closedBefore = new Map<string, number>();
    for (const t of idle) {
      const eventClockMs = t.maxEventMs + (nowMs - t.advancedAtMs);
      const end = Math.floor((eventClockMs - config.allowedLatenessMs) / MINUTE_MS) * MINUTE_MS;
      const cached = this.cache.get(t.tenant);
      if (cached === undefined || cached.evaluatedBeforeMs < end) closedBefore.set(t.tenant, end);
    }
    if (closedBefore.size === 0) return 0;
    return this.evaluate(store, closedBefore);
  }

  /** Feeds each due tenant's newly closed minutes to its series, then stores everything at once; answers the tenants that moved. */
  private async evaluate(
    store: AnomalyTransaction,
    closedBefore: Map<string, number>,
  ): Promise<number> {
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
    if (work.length === 0) return 0;
    const ranges = work.map((w) => w.range);
    const rowsByTenant = await store.minuteRows(ranges);
    const outcomesByTenant = await store.minuteOutcomes(ranges);
    // Scores are read only where the windows counted predictions (most tenants score nothing).
    const pixelsByTenant = await store.minutePixels(ranges);
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

    const out = emptyOutcome();
    const ctx: TenantEvaluationContext = {
      maxSeriesPerTenant: config.maxSeriesPerTenant,
      retireAfterMs: config.retireAfterMs,
      alertSource: config.alertSource,
      ...(observer === undefined ? {} : { observer }),
    };
    const saved: (TenantProgress & { tenant: string; overflow: number })[] = [];
    const next: [string, CachedTenant][] = [];
    let minutes = 0;
    let points = 0;
    const checkpointMs = config.checkpointMinutes * MINUTE_MS;
    for (const { range, progress: p, cached } of work) {
      const series = cached?.series ?? loaded.get(range.tenant) ?? new Map<string, LiveSeries>();
      const result = evaluateTenant(
        ctx,
        range,
        p.evaluatedBeforeMs,
        series,
        {
          rows: rowsByTenant.get(range.tenant) ?? [],
          outcomes: outcomesByTenant.get(range.tenant) ?? [],
          scores: scoresByTenant.get(range.tenant) ?? [],
          pixels: pixelsByTenant.get(range.tenant) ?? [],
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
    return work.length;
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
}

/** Longest pixel id stored (the CAPI route's limit); a longer one is not counted per pixel. */
const MAX_PIXEL_CHARS = 128;

/** What the stage keeps of a CAPI event. */
interface PixelPoint {
  pixel: string;
  windowStartMs: number;
  matchQuality: number | undefined;
}

/** Sums the records' pixel points per tenant, pixel and minute. */
function pixelDeltas(records: readonly StageRecord[]): PixelDelta[] {
  const out = new Map<string, PixelDelta>();
  for (const r of records) {
    const p = r.input as PixelPoint | undefined;
    if (p === undefined) continue;
    const tenant = r.observation.tenant;
    const key = `${tenant}\u0000${p.pixel}\u0000${p.windowStartMs}`;
    let d = out.get(key);
    if (d === undefined) {
      d = {
        tenant,
        windowStartMs: p.windowStartMs,
        pixel: p.pixel,
        events: 0,
        matchQualitySum: 0,
        matchQualityCount: 0,
      };
      out.set(key, d);
    }
    d.events += 1;
    if (p.matchQuality !== undefined && Number.isFinite(p.matchQuality)) {
      d.matchQualitySum += p.matchQuality;
      d.matchQualityCount += 1;
    }
  }
  return [...out.values()];
}
