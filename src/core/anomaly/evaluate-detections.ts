/** Event-level precision, recall and detection delay of a detector's alerts against labelled anomalies. */
import type { InjectedAnomaly } from "./synthetic-series.ts";

export interface DetectionQuality {
  /** Injected anomalies with an alert inside them (or within the grace after their end). */
  detected: number;
  missed: number;
  /** Alerts that match no injected anomaly. */
  falseAlarms: number;
  /** Matching alerts / all alerts (1 when there were none). */
  precision: number;
  /** Detected / injected (1 when none was injected). */
  recall: number;
  /** Mean points from an anomaly's start to its first alert, over detected ones (NaN if none). */
  meanDelayPoints: number;
}

/**
 * `alerts` are the indices of points where a detector reported `change: "detected"`. An alert
 * matches an anomaly when it falls in [start, end + gracePoints): a drop is caught while it lasts,
 * a spike within the grace after it.
 */
export function evaluateDetections(
  anomalies: readonly InjectedAnomaly[],
  alerts: readonly number[],
  gracePoints: number,
): DetectionQuality {
  let detected = 0;
  let delaySum = 0;
  const matched = new Set<number>();
  for (const a of anomalies) {
    let first: number | undefined;
    alerts.forEach((i, k) => {
      if (i >= a.start && i < a.end + gracePoints) {
        matched.add(k);
        if (first === undefined || i < first) first = i;
      }
    });
    if (first !== undefined) {
      detected += 1;
      delaySum += first - a.start;
    }
  }
  const falseAlarms = alerts.length - matched.size;
  return {
    detected,
    missed: anomalies.length - detected,
    falseAlarms,
    precision: alerts.length === 0 ? 1 : matched.size / alerts.length,
    recall: anomalies.length === 0 ? 1 : detected / anomalies.length,
    meanDelayPoints: detected === 0 ? Number.NaN : delaySum / detected,
  };
}
