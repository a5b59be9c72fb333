/**
 * The alert types an endpoint may subscribe to, as `POST /v1/webhooks` accepts them. A copy of
 * `ALERT_TYPES` (#core/monitoring), whose module brings zod into the page's bundle; a unit test
 * keeps the two equal, and the route answers 400 for a type it does not know.
 */
export const ALERT_TYPE_CHOICES = [
  "dev.driftline.drift.changed",
  "dev.driftline.drift.recovered",
  "dev.driftline.performance.degraded",
  "dev.driftline.performance.recovered",
  "dev.driftline.retraining.requested",
  "dev.driftline.retraining.training",
  "dev.driftline.retraining.candidate",
  "dev.driftline.retraining.challenger",
  "dev.driftline.retraining.awaiting-approval",
  "dev.driftline.retraining.promoted",
  "dev.driftline.retraining.rolled-back",
  "dev.driftline.retraining.rejected",
  "dev.driftline.retraining.needs-external-trainer",
  "dev.driftline.retraining.failed",
  "dev.driftline.retraining.cancelled",
  "dev.driftline.anomaly.detected",
  "dev.driftline.anomaly.resolved",
] as const;

/** `drift.changed` for `dev.driftline.drift.changed`: the prefix is the same on every type. */
export const shortAlertType = (type: string) => type.replace(/^dev\.driftline\./, "");
