/** Anomaly alerts as CloudEvents (`dev.driftline.anomaly.detected` / `.resolved`) with their evidence. */
import { ALERT_TYPES, buildCloudEvent, type CloudEvent } from "../monitoring/cloud-event.ts";
import type { AnomalyReason } from "./detector.ts";

/** What is watched: a metric and the dimensions that name one series of it. */
export interface SeriesRef {
  /** `events`, `conversions`, `value`, `match-quality`, `predictions`, … */
  metric: string;
  dimensions: Record<string, string>;
}

/** The evidence of a detection or a resolution, as stored and sent. */
export interface AnomalyEvidence {
  anomalyId: string;
  series: SeriesRef;
  reason: AnomalyReason;
  /** The minute window that opened the anomaly (epoch ms). */
  detectedAtMs: number;
  /** The minute window that closed it (resolutions only). */
  resolvedAtMs?: number;
  /** The window this event is about: [windowStartMs, windowStartMs + windowMs). */
  windowStartMs: number;
  windowMs: number;
  observed: number;
  expected: number;
  expectedRange: { lower: number; upper: number };
  /** 0..1; 0.5 is the detection threshold. */
  score: number;
  /** Highest score while open (resolutions only). */
  peakScore?: number;
}

/** The `data` of an anomaly CloudEvent. */
export interface AnomalyAlertData
  extends Omit<AnomalyEvidence, "detectedAtMs" | "resolvedAtMs" | "windowStartMs"> {
  tenant: string;
  status: "open" | "resolved";
  /** ISO-8601 UTC. */
  detectedAt: string;
  resolvedAt?: string;
  windowStart: string;
  windowEnd: string;
  /** One sentence a person can act on. */
  summary: string;
}

/** Readable name of a series, e.g. `events of Purchase (capi, campaign spring)`. */
export function describeSeries(series: SeriesRef): string {
  const d = series.dimensions;
  const parts: string[] = [];
  if (d.source) parts.push(d.source);
  if (d.pixel) parts.push(`pixel ${d.pixel}`);
  if (d.campaign) parts.push(`campaign ${d.campaign}`);
  if (d.currency) parts.push(d.currency);
  const what = d.eventName ?? d.model;
  return `${series.metric}${what ? ` of ${what}` : ""}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
}

const REASON_TEXT: Record<AnomalyReason, string> = {
  spike: "spiked above",
  dip: "dipped below",
  "level-shift-up": "shifted above",
  "level-shift-down": "shifted below",
  "drop-to-zero": "dropped to zero against",
};

/** The CloudEvent of a detection (`resolved` false) or resolution of one anomaly. */
export function anomalyCloudEvent(args: {
  tenant: string;
  evidence: AnomalyEvidence;
  resolved: boolean;
  source: string;
}): CloudEvent<AnomalyAlertData> {
  const { tenant, evidence: e, resolved } = args;
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  const name = describeSeries(e.series);
  const summary = resolved
    ? `${name} is back within its expected range (${round(e.expectedRange.lower)}–${round(e.expectedRange.upper)}), observed ${round(e.observed)}`
    : `${name} ${REASON_TEXT[e.reason]} its expected range (${round(e.expectedRange.lower)}–${round(e.expectedRange.upper)}): observed ${round(e.observed)}, expected ${round(e.expected)}`;
  const at = resolved ? (e.resolvedAtMs ?? e.windowStartMs) : e.detectedAtMs;
  const data: AnomalyAlertData = {
    tenant,
    anomalyId: e.anomalyId,
    status: resolved ? "resolved" : "open",
    series: e.series,
    reason: e.reason,
    detectedAt: new Date(e.detectedAtMs).toISOString(),
    ...(e.resolvedAtMs === undefined ? {} : { resolvedAt: new Date(e.resolvedAtMs).toISOString() }),
    windowStart: new Date(e.windowStartMs).toISOString(),
    windowEnd: new Date(e.windowStartMs + e.windowMs).toISOString(),
    windowMs: e.windowMs,
    observed: round(e.observed),
    expected: round(e.expected),
    expectedRange: { lower: round(e.expectedRange.lower), upper: round(e.expectedRange.upper) },
    score: round(e.score),
    ...(e.peakScore === undefined ? {} : { peakScore: round(e.peakScore) }),
    summary,
  };
  return buildCloudEvent({
    id: `${e.anomalyId}:${resolved ? "resolved" : "detected"}`,
    source: args.source,
    type: resolved ? ALERT_TYPES.anomalyResolved : ALERT_TYPES.anomalyDetected,
    timeMs: at + e.windowMs,
    subject: `${tenant}/anomalies/${e.anomalyId}`,
    data,
  });
}
