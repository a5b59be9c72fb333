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
  DetectedAnomaly,
  OpenAnomalies,
  SeriesWrite,
} from "./anomaly-store";
import {
  isCountMetric,
  KPI_METRICS,
  type KpiMetric,
  type MinuteRow,
  seriesPointsOf,
} from "./kpi-series";

export interface AnomalyStageConfig {
  /** Most series a tenant's detectors hold; new ones past it are refused and counted. */
  maxSeriesPerTenant: number;
  /** Minute windows evaluated per tenant and batch at most, so a long backlog catches up over batches. */
  maxMinutesPerBatch: number;
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
  seriesOverflowed(tenant: string, refused: number): void;
}

interface LiveSeries {
  key: string;
  metric: KpiMetric;
  dimensions: Record<string, string>;
  detector: Detector;
  openAnomaly: string | null;
  peak: number;
  last?: DetectorPoint;
  lastMinuteMs: number;
}

export class AnomalyStage implements BatchStage {
  /**
   * Per tenant, where the stored progress stood after this process's last committed-or-not
   * evaluation. Only a hint to skip batches that close no new minute: when work is due, the
   * locked row in Postgres decides, so a rolled-back batch is evaluated again.
   */
  private readonly evaluatedHint = new Map<string, number>();

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
    for (const tenant of tenants) {
      const max = newest.get(tenant);
      if (max === undefined) continue;
      // Minutes [s, s + 1 min) with s + 1 min ≤ watermark are closed: s < closedBefore.
      const closedBefore =
        Math.floor((max - this.deps.config.allowedLatenessMs) / MINUTE_MS) * MINUTE_MS;
      const hint = this.evaluatedHint.get(tenant);
      if (hint !== undefined && hint >= closedBefore) continue;
      await this.evaluateTenant(store, tenant, closedBefore);
    }
  }

  private async evaluateTenant(
    store: AnomalyTransaction,
    tenant: string,
    closedBefore: number,
  ): Promise<void> {
    const { config, log, observer } = this.deps;
    const from = await store.lockProgress(tenant, () => store.firstMinute(tenant));
    if (from === undefined) return;
    if (from >= closedBefore) {
      this.evaluatedHint.set(tenant, from);
      return;
    }
    const to = Math.min(closedBefore, from + config.maxMinutesPerBatch * MINUTE_MS);
    const rows = await store.minuteRows(tenant, from, to);
    const series = new Map<string, LiveSeries>();
    for (const s of await store.loadSeries(tenant)) {
      const options = KPI_METRICS[s.metric];
      if (options === undefined) continue;
      let detector: Detector;
      try {
        detector = createDetector(options, s.state);
      } catch (error) {
        log.warn(
          { tenant, series: s.key, err: error },
          "detector state unreadable; starting it over",
        );
        detector = createDetector(options);
      }
      series.set(s.key, { ...s, detector, peak: 0, lastMinuteMs: from });
    }
    const byMinute = new Map<number, MinuteRow[]>();
    for (const r of rows) {
      const list = byMinute.get(r.windowStartMs);
      if (list === undefined) byMinute.set(r.windowStartMs, [r]);
      else list.push(r);
    }

    const detected: DetectedAnomaly[] = [];
    const updates = new Map<
      string,
      { anomalyId: string; peakScore: number; resolvedAtMs?: number }
    >();
    const alerts: QueuedAlert[] = [];
    const refused = new Set<string>();
    let overflow = 0;
    let points = 0;
    const touched = new Set<LiveSeries>();
    for (let minute = from; minute < to; minute += MINUTE_MS) {
      const seen = new Set<string>();
      const feed = (s: LiveSeries, value: number) => {
        const p = s.detector.update({ t: minute, value });
        points += 1;
        s.last = p;
        s.lastMinuteMs = minute;
        touched.add(s);
        if (s.openAnomaly !== null && p.score > s.peak) s.peak = p.score;
        if (p.change === "detected") this.opened(tenant, s, p, minute, detected, alerts);
        else if (p.change === "resolved") this.resolved(tenant, s, p, minute, updates, alerts);
        else if (s.openAnomaly !== null) {
          updates.set(s.openAnomaly, { anomalyId: s.openAnomaly, peakScore: s.peak });
        }
      };
      for (const point of seriesPointsOf(byMinute.get(minute) ?? [])) {
        seen.add(point.key);
        let s = series.get(point.key);
        if (s === undefined) {
          if (series.size >= config.maxSeriesPerTenant) {
            overflow += 1;
            refused.add(point.key);
            continue;
          }
          s = {
            key: point.key,
            metric: point.metric,
            dimensions: point.dimensions,
            detector: createDetector(KPI_METRICS[point.metric]),
            openAnomaly: null,
            peak: 0,
            lastMinuteMs: minute,
          };
          series.set(point.key, s);
        }
        feed(s, point.value);
      }
      // A count series with no row in a closed minute counted nothing: a zero, not a gap.
      for (const s of series.values()) {
        if (!seen.has(s.key) && isCountMetric(s.metric)) feed(s, 0);
      }
    }

    const writes: SeriesWrite[] = [...touched].map((s) => ({
      key: s.key,
      metric: s.metric,
      dimensions: s.dimensions,
      state: s.detector.snapshot(),
      openAnomaly: s.openAnomaly,
      lastValue: s.last?.value ?? null,
      lastScore: s.last?.score ?? null,
      lastMinuteMs: s.lastMinuteMs,
    }));
    await store.saveSeries(tenant, writes);
    await store.insertAnomalies(tenant, detected);
    await store.updateAnomalies(tenant, [...updates.values()]);
    await store.saveProgress(tenant, to, overflow);
    await store.insertAlerts(alerts, config.operatorSinks);
    this.evaluatedHint.set(tenant, to);
    observer?.evaluated((to - from) / MINUTE_MS, points);
    if (overflow > 0) {
      observer?.seriesOverflowed(tenant, refused.size);
      log.warn(
        { tenant, cap: config.maxSeriesPerTenant, refused: refused.size },
        `tenant reached its cap of ${config.maxSeriesPerTenant} anomaly series; new series are not watched`,
      );
    }
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
    detected: DetectedAnomaly[],
    alerts: QueuedAlert[],
  ): void {
    const id = anomalyId(s.key, minute);
    s.openAnomaly = id;
    s.peak = p.score;
    detected.push({
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
    alerts.push(this.alert(tenant, s, this.evidence(s, p, id, minute), false));
    this.deps.observer?.changed("detected", s.metric);
  }

  private resolved(
    tenant: string,
    s: LiveSeries,
    p: DetectorPoint,
    minute: number,
    updates: Map<string, { anomalyId: string; peakScore: number; resolvedAtMs?: number }>,
    alerts: QueuedAlert[],
  ): void {
    const id = s.openAnomaly;
    s.openAnomaly = null;
    if (id === null) return; // state restored without its anomaly id (never written so)
    updates.set(id, { anomalyId: id, peakScore: s.peak, resolvedAtMs: minute });
    const detectedAtMs = Number.parseInt(id.split("-")[1] ?? "", 36);
    const evidence: AnomalyEvidence = {
      ...this.evidence(s, p, id, Number.isFinite(detectedAtMs) ? detectedAtMs : minute),
      windowStartMs: minute,
      resolvedAtMs: minute,
      peakScore: s.peak,
    };
    alerts.push(this.alert(tenant, s, evidence, true));
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
      model: s.metric === "predictions" ? (s.dimensions.model ?? null) : null,
      version: null,
      cloudEvent,
      messageKey: `${tenant}:anomaly:${evidence.anomalyId}`,
    };
  }
}
