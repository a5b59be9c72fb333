/** Driftline alerts as CloudEvents 1.0 in structured JSON mode: the schema, the types and a builder. */

import { z } from "zod";
import { ValidationError } from "../errors.ts";

/** The CloudEvents `type` of every Driftline alert (reverse-DNS, past tense: what happened). */
export const ALERT_TYPES = {
  /** A column's drift level changed to moderate or significant (up or down). */
  driftChanged: "dev.driftline.drift.changed",
  /** A column's drift level went back to stable. */
  driftRecovered: "dev.driftline.drift.recovered",
  /** Performance fell below the baseline. */
  performanceDegraded: "dev.driftline.performance.degraded",
  /** Performance is back within the baseline's bound. */
  performanceRecovered: "dev.driftline.performance.recovered",
  /** A retraining policy fired and a request was opened. */
  retrainingRequested: "dev.driftline.retraining.requested",
  /** The retraining worker started training a candidate. */
  retrainingTraining: "dev.driftline.retraining.training",
  /** A candidate passed the offline gate. */
  retrainingCandidate: "dev.driftline.retraining.candidate",
  /** The candidate serves as challenger next to the champion. */
  retrainingChallenger: "dev.driftline.retraining.challenger",
  /** The online decision waits for an operator (manual approval). */
  retrainingAwaitingApproval: "dev.driftline.retraining.awaiting-approval",
  /** The challenger became champion. */
  retrainingPromoted: "dev.driftline.retraining.promoted",
  /** The challenger was rolled back; the champion serves all traffic. */
  retrainingRolledBack: "dev.driftline.retraining.rolled-back",
  /** Too few labels, or the candidate failed the offline gate. */
  retrainingRejected: "dev.driftline.retraining.rejected",
  /** The model has no family Driftline trains (uploaded from elsewhere) or no longer exists. */
  retrainingNeedsExternalTrainer: "dev.driftline.retraining.needs-external-trainer",
  /** Retraining failed on an error that retries did not clear. */
  retrainingFailed: "dev.driftline.retraining.failed",
  /** An operator cancelled the request. */
  retrainingCancelled: "dev.driftline.retraining.cancelled",
  /** A KPI series (event volume, value, match quality, predictions…) left its expected range. */
  anomalyDetected: "dev.driftline.anomaly.detected",
  /** The series is back within its expected range. */
  anomalyResolved: "dev.driftline.anomaly.resolved",
} as const;

export type AlertType = (typeof ALERT_TYPES)[keyof typeof ALERT_TYPES];

/** Media type of a structured-mode CloudEvent (the whole event is the message body). */
export const CLOUDEVENTS_JSON_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

const nonEmpty = z.string().min(1, "must not be empty");

/**
 * CloudEvents 1.0 structured JSON (spec v1.0.2): the four required context attributes, the
 * optional ones Driftline sets, and extensions (lower-case a–z and 0–9 names) passed through.
 */
export const cloudEventSchema = z
  .object({
    specversion: z.literal("1.0"),
    id: nonEmpty,
    /** URI-reference identifying the producer. */
    source: nonEmpty.refine(isUriReference, "must be a URI-reference"),
    type: nonEmpty,
    datacontenttype: nonEmpty.optional(),
    dataschema: z.url().optional(),
    subject: nonEmpty.optional(),
    /** RFC 3339 timestamp. */
    time: z.iso.datetime({ offset: true }).optional(),
    data: z.unknown().optional(),
  })
  .catchall(z.unknown())
  .superRefine((event, ctx) => {
    for (const key of Object.keys(event)) {
      if (!/^[a-z0-9]{1,20}$/.test(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "attribute names are lower-case letters and digits (at most 20)",
        });
      }
    }
  });

export type CloudEvent<D = unknown> = {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  datacontenttype?: string;
  dataschema?: string;
  subject?: string;
  time?: string;
  data?: D;
} & Record<string, unknown>;

/** A URI-reference (RFC 3986): no spaces or control characters; a scheme, if any, is well formed. */
function isUriReference(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return false;
  const colon = value.indexOf(":");
  const slash = value.indexOf("/");
  if (colon > 0 && (slash < 0 || colon < slash))
    return /^[A-Za-z][A-Za-z0-9+.-]*$/.test(value.slice(0, colon));
  return true;
}

export interface BuildCloudEventInput<D> {
  id: string;
  source: string;
  type: AlertType;
  /** Epoch ms. */
  timeMs: number;
  subject: string;
  data: D;
}

/**
 * A structured-mode CloudEvent with JSON data.
 * @throws ValidationError when an attribute breaks the specification (e.g. an empty id)
 */
export function buildCloudEvent<D>(input: BuildCloudEventInput<D>): CloudEvent<D> {
  const event = {
    specversion: "1.0" as const,
    id: input.id,
    source: input.source,
    type: input.type,
    time: new Date(input.timeMs).toISOString(),
    subject: input.subject,
    datacontenttype: "application/json",
    data: input.data,
  };
  const checked = cloudEventSchema.safeParse(event);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = issue?.path.map(String).join(".") || "(event)";
    throw new ValidationError(`CloudEvent ${field} ${issue?.message ?? "is invalid"}`, [
      { field, message: issue?.message ?? "is invalid" },
    ]);
  }
  return event;
}
