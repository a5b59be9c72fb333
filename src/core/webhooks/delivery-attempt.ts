/** One attempt to deliver one event to one endpoint, as both the Worker and the processor record it. */

/** Longest error text kept with an attempt: a receiver's answer or a network error, not a page. */
const MAX_ERROR_CHARS = 1024;

/** What GET /v1/webhooks/{id}/deliveries shows of an attempt. */
export interface WebhookDeliveryAttempt {
  tenant: string;
  endpointId: string;
  /** The CloudEvent id (the delivery's `webhook-id`). */
  eventId: string;
  eventType: string;
  /** 1-based. */
  attempt: number;
  /** The receiver's HTTP status, when it answered. */
  statusCode: number | undefined;
  /** Why it failed; undefined when it succeeded (a 2xx). */
  error: string | undefined;
  durationMs: number;
  attemptedAtMs: number;
  /** When a retry is due; undefined when none will be made. */
  nextAttemptAtMs: number | undefined;
}

/**
 * The attempt as the ten parameters of an insert into `webhook_deliveries`, in column order:
 * tenant, endpoint, event id, event type, attempt, status code, error (clipped), duration (whole
 * ms), attempted at and next attempt at (epoch ms as text, for `bigint` parameters).
 */
export function deliveryAttemptValues(a: WebhookDeliveryAttempt): unknown[] {
  return [
    a.tenant,
    a.endpointId,
    a.eventId,
    a.eventType,
    a.attempt,
    a.statusCode ?? null,
    a.error === undefined ? null : a.error.slice(0, MAX_ERROR_CHARS),
    Math.max(0, Math.round(a.durationMs)),
    String(a.attemptedAtMs),
    a.nextAttemptAtMs === undefined ? null : String(a.nextAttemptAtMs),
  ];
}
