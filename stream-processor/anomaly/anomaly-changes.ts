/** An anomaly opening or resolving on a series: its row, its peak-score update and its CloudEvent alert. */
import {
  type AnomalyEvidence,
  anomalyCloudEvent,
  anomalyId,
  type DetectorPoint,
} from "#core/anomaly";
import { ALERT_TYPES } from "#core/monitoring";
import { MINUTE_MS } from "#core/windows";
import type { QueuedAlert } from "../alerts/neon-alert-queue";
import type { KpiMetric } from "./kpi-series";
import type { LiveSeries, Outcome } from "./live-series";

/** Where alerts come from and who counts the changes. */
export interface ChangeContext {
  /** CloudEvents `source` of the alerts. */
  alertSource: string;
  observer?: { changed(kind: "detected" | "resolved", metric: KpiMetric): void };
}

/** The anomaly a series' detector opened at `minute`: its row and its `detected` alert. */
export function recordOpened(
  ctx: ChangeContext,
  s: LiveSeries,
  p: DetectorPoint,
  minute: number,
  out: Outcome,
): void {
  const id = anomalyId(s.key, minute);
  s.openAnomaly = id;
  s.peak = p.score;
  out.detected.push({
    tenant: s.tenant,
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
  out.alerts.push(alertOf(ctx, s, evidenceOf(s, p, id, minute), false));
  ctx.observer?.changed("detected", s.metric);
}

/** The series' open anomaly resolved at `minute`: its closing update and its `resolved` alert. */
export function recordResolved(
  ctx: ChangeContext,
  s: LiveSeries,
  p: DetectorPoint,
  minute: number,
  out: Outcome,
): void {
  const id = s.openAnomaly;
  s.openAnomaly = null;
  if (id === null) return; // state restored without its anomaly id (never written so)
  out.updates.set(`${s.tenant}\u0000${id}`, {
    tenant: s.tenant,
    anomalyId: id,
    peakScore: s.peak,
    resolvedAtMs: minute,
  });
  const detectedAtMs = Number.parseInt(id.split("-")[1] ?? "", 36);
  const evidence: AnomalyEvidence = {
    ...evidenceOf(s, p, id, Number.isFinite(detectedAtMs) ? detectedAtMs : minute),
    windowStartMs: minute,
    resolvedAtMs: minute,
    peakScore: s.peak,
  };
  out.alerts.push(alertOf(ctx, s, evidence, true));
  ctx.observer?.changed("resolved", s.metric);
}

function evidenceOf(s: LiveSeries, p: DetectorPoint, id: string, minute: number): AnomalyEvidence {
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

function alertOf(
  ctx: ChangeContext,
  s: LiveSeries,
  evidence: AnomalyEvidence,
  resolved: boolean,
): QueuedAlert {
  const cloudEvent = anomalyCloudEvent({
    tenant: s.tenant,
    evidence,
    resolved,
    source: ctx.alertSource,
  });
  return {
    alertId: cloudEvent.id,
    tenant: s.tenant,
    type: resolved ? ALERT_TYPES.anomalyResolved : ALERT_TYPES.anomalyDetected,
    model: s.dimensions.model ?? null,
    version: null,
    cloudEvent,
    messageKey: `${s.tenant}:anomaly:${evidence.anomalyId}`,
  };
}
