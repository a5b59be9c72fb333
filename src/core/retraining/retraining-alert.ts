/** A retraining step as an alert: a CloudEvent per status change, with the request and its evidence. */

import { sha256Hex } from "../events/sha256-hex.ts";
import {
  ALERT_TYPES,
  type AlertType,
  buildCloudEvent,
  type CloudEvent,
} from "../monitoring/cloud-event.ts";

/** The alert type announcing each status (and the manual-approval wait). */
export const RETRAINING_ALERT_TYPES: Record<string, AlertType> = {
  training: ALERT_TYPES.retrainingTraining,
  candidate: ALERT_TYPES.retrainingCandidate,
  challenger: ALERT_TYPES.retrainingChallenger,
  "awaiting-approval": ALERT_TYPES.retrainingAwaitingApproval,
  promoted: ALERT_TYPES.retrainingPromoted,
  "rolled-back": ALERT_TYPES.retrainingRolledBack,
  rejected: ALERT_TYPES.retrainingRejected,
  "needs-external-trainer": ALERT_TYPES.retrainingNeedsExternalTrainer,
  failed: ALERT_TYPES.retrainingFailed,
  cancelled: ALERT_TYPES.retrainingCancelled,
};

export interface RetrainingAlert {
  alertId: string;
  tenant: string;
  model: string;
  version: string;
  type: AlertType;
  cloudEvent: CloudEvent;
}

/**
 * The alert of a request's step. Its id is derived from the request and the step, so writing
 * it again (a resumed step) finds it stored and sends nothing twice.
 */
export function retrainingAlert(input: {
  tenant: string;
  requestId: string;
  model: string;
  /** The version the step concerns (the candidate's once it has one). */
  version: string;
  step: string;
  reason: string;
  evidence: Record<string, unknown>;
  timeMs: number;
  source: string;
}): RetrainingAlert {
  const type = RETRAINING_ALERT_TYPES[input.step];
  if (type === undefined) throw new RangeError(`no alert type for retraining step ${input.step}`);
  const h = sha256Hex(
    JSON.stringify(["driftline", "retraining", input.tenant, input.requestId, input.step]),
  );
  const alertId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return {
    alertId,
    tenant: input.tenant,
    model: input.model,
    version: input.version,
    type,
    cloudEvent: buildCloudEvent({
      id: alertId,
      source: input.source,
      type,
      timeMs: input.timeMs,
      subject: `tenants/${input.tenant}/models/${input.model}/retraining-requests/${input.requestId}`,
      data: {
        tenant: input.tenant,
        model: input.model,
        version: input.version,
        requestId: input.requestId,
        status: input.step,
        reason: input.reason,
        evidence: input.evidence,
      },
    }),
  };
}
