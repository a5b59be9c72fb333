/** The ingest outcome record: what one ingest request did with its events (accepted, duplicate, rejected, cross-source copy), sent on the event topic beside them. */
import { z } from "zod";
import { EVENT_SOURCES } from "./event-message-schema.ts";

/** The record's `type`; event messages never carry a `type` field. */
export const INGEST_OUTCOME_TYPE = "ingest-outcome";

/**
 * Rejected events never reach the stream, and duplicates are dropped at the edge: without this
 * record the stream processor could not know either. One small record per request (not per
 * event) keeps the edge's cost flat; the processor sums them per tenant, source and minute of
 * receipt. `requestId` makes a redelivered record count once.
 */
export const ingestOutcomeSchema = z.object({
  type: z.literal(INGEST_OUTCOME_TYPE),
  v: z.literal(1),
  tenant: z.string().min(1),
  source: z.enum(EVENT_SOURCES),
  requestId: z.string().min(1).max(256),
  /** Receive time, epoch ms. */
  receivedAtMs: z.number().int().nonnegative(),
  /** Events newly accepted and queued, cross-source copies included. */
  accepted: z.number().int().nonnegative(),
  /** Events answered `duplicate`. */
  duplicates: z.number().int().nonnegative(),
  /** Events answered `rejected`. */
  rejected: z.number().int().nonnegative(),
  /** Accepted events whose copy from the other kind of sender came first (not counted again). */
  copies: z.number().int().nonnegative(),
});

export type IngestOutcome = z.output<typeof ingestOutcomeSchema>;

/**
 * The Kafka key of a request's outcome record. `$` cannot start a tenant id, so readers that
 * select a tenant's events by the key prefix `<tenant>:` never take it for an event.
 */
export function ingestOutcomeKey(tenant: string, requestId: string): string {
  return `$outcome:${tenant}:${requestId}`;
}

/** Whether a parsed event-topic value is an outcome record (one property read, for the decoder's hot path). */
export function isIngestOutcomeValue(json: unknown): boolean {
  return (
    typeof json === "object" &&
    json !== null &&
    (json as { type?: unknown }).type === INGEST_OUTCOME_TYPE
  );
}
