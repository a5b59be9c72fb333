/** The ingest verb: prepare a batch (validate, hash), drop duplicates, queue the rest durably, answer per event. */
import { DependencyUnavailableError } from "#core/errors";
import {
  type AcceptedEventCandidate,
  buildEventsResponse,
  type EventSource,
  type EventsResponse,
  INGEST_OUTCOME_TYPE,
  type IngestOutcome,
  ingestOutcomeKey,
  type KeyKind,
  type PrepareEventsOptions,
  prepareEvents,
  type RequestContext,
} from "#core/events";
import type {
  ClaimOutcome,
  DedupStore,
  EventEnvelope,
  EventSink,
  EventTopic,
} from "./ingest-ports";

export interface IngestDeps {
  dedup: DedupStore;
  sink: EventSink;
  /** Receive time; the event-time window is measured from it. */
  now(): Date;
  /** Id for an accepted event sent without event_id. */
  newEventId(): string;
  log?: (entry: Record<string, unknown>) => void;
  /** The deployment's settings of event preparation (the request's own `options` win). */
  prepareOptions?: Partial<PrepareEventsOptions>;
}

export interface IngestInput {
  tenant: string;
  source: EventSource;
  /** The parsed body, unvalidated (a CAPI body, or one website event or `{ events }`). */
  body: unknown;
  pixelId?: string;
  requestContext?: RequestContext;
  /** `browser` for publishable keys and requests from pages: their events cannot claim server ids. */
  keyKind: KeyKind;
  /** The tenant has a forwarding destination: keep the fields only it uses. */
  keepForwardingFields: boolean;
  /** The body's text was found to hold only storable strings (see `EventsBody.storableText`). */
  storableText?: boolean;
  options?: Partial<PrepareEventsOptions>;
}

const TOPIC_BY_SOURCE: Record<EventSource, EventTopic> = { web: "events", capi: "capi" };

/**
 * Answers only after every accepted event is on the queue. Deduplication claims happen before the
 * send; when the send fails the claims of the events that did not reach the queue are released
 * and a retryable 503 is thrown, so resending the request reports them as accepted, not as
 * duplicates (events that did reach the queue stay claimed and come back as duplicates).
 *
 * When Upstash cannot deduplicate, the events are accepted anyway (see below).
 *
 * Throws `ValidationError` when the body as a whole is unusable, `DependencyUnavailableError`
 * when the queue fails.
 */
export async function ingestEvents({
  deps,
  ...input
}: IngestInput & { deps: IngestDeps }): Promise<EventsResponse> {
  const nowMs = deps.now().getTime();
  const prepared = await prepareEvents({
    tenant: input.tenant,
    source: input.source,
    body: input.body,
    nowMs,
    newEventId: deps.newEventId,
    keyKind: input.keyKind,
    keepForwardingFields: input.keepForwardingFields,
    ...(input.storableText === true ? { storableText: true } : {}),
    ...(input.pixelId === undefined ? {} : { pixelId: input.pixelId }),
    ...(input.requestContext === undefined ? {} : { requestContext: input.requestContext }),
    ...(input.options === undefined && deps.prepareOptions === undefined
      ? {}
      : { options: { ...deps.prepareOptions, ...input.options } }),
  });

  const candidates = prepared.results.filter(
    (r): r is AcceptedEventCandidate => r.status === "accepted",
  );
  const keys = candidates.map((c) => c.dedupKey);
  let claimed: ClaimOutcome[];
  try {
    claimed = await deps.dedup.claim(
      candidates.map((c) => ({ key: c.dedupKey, otherKey: c.otherDedupKey })),
    );
  } catch (err) {
    if (!(err instanceof DependencyUnavailableError)) throw err;
    // Fail open: refusing would lose what cannot be resent (a browser's beacon is never retried),
    // while accepting costs only the duplicate answers: the stream processor deduplicates the
    // same (tenant, event_name, event_id) exactly, by the same key-kind rule, so nothing is
    // counted twice. Repeats within this request are still dropped here.
    deps.log?.({
      level: "warn",
      msg: "edge deduplication unavailable; events accepted without it (the stream processor deduplicates)",
      tenant: input.tenant,
      events: keys.length,
      error: err.message,
    });
    const seen = new Set<string>();
    claimed = keys.map((k) => {
      if (seen.has(k)) return "duplicate";
      seen.add(k);
      return "claimed";
    });
  }
  const duplicates = new Set<number>();
  const copies = new Set<number>();
  const fresh: AcceptedEventCandidate[] = [];
  candidates.forEach((candidate, i) => {
    const outcome = claimed[i];
    if (outcome === "duplicate") {
      duplicates.add(candidate.index);
      return;
    }
    if (outcome === "copy") {
      // Rare (one of a browser/server pair): the message is serialised again with the mark.
      copies.add(candidate.index);
      const message = { ...candidate.message, crossSourceCopy: true as const };
      fresh.push({ ...candidate, message, messageJson: JSON.stringify(message) });
      return;
    }
    fresh.push(candidate);
  });

  const envelopes: EventEnvelope[] = fresh.map((c) => ({
    key: c.messageKey,
    value: c.message,
    valueJson: c.messageJson,
  }));
  // The request's outcome counts travel last in the same send (no extra queue call): the stream
  // processor sums them into the rejected and duplicate shares it watches.
  const counts = outcomeRecord(
    input,
    deps,
    nowMs,
    prepared.results.length,
    fresh.length,
    duplicates,
    copies,
  );
  envelopes.push(counts);
  const outcome = await deps.sink.send(TOPIC_BY_SOURCE[input.source], envelopes);
  if (!outcome.ok) {
    const unsent = outcome.notQueued
      .filter((i) => i < fresh.length)
      .map((i) => fresh[i] as AcceptedEventCandidate);
    if (unsent.length === 0) {
      // Only the outcome record missed the queue: every event is queued, the request succeeded;
      // the shares lose this request's counts.
      deps.log?.({
        level: "warn",
        msg: "ingest outcome record not queued; the request's counts are missing from the rejected and duplicate shares",
        tenant: input.tenant,
        error: outcome.reason,
      });
      return buildEventsResponse(prepared.results, duplicates, copies);
    }
    try {
      await deps.dedup.release(unsent.map((c) => c.dedupKey));
    } catch (err) {
      // The request still fails; a retry of these events within 48 h will read as duplicates.
      deps.log?.({
        level: "error",
        msg: "could not release dedup keys after a failed queue send",
        tenant: input.tenant,
        events: unsent.length,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    const queued = fresh.length - unsent.length;
    throw new DependencyUnavailableError(
      `The ingest queue did not take ${unsent.length} of ${fresh.length} accepted events (${outcome.reason}); retry the same request: events already queued will be answered as duplicates.`,
      {
        context: {
          retryAfterSeconds: 1,
          queued,
          notQueued: unsent.length,
          notQueuedIndexes: unsent.map((c) => c.index),
        },
      },
    );
  }
  return buildEventsResponse(prepared.results, duplicates, copies);
}

/** The outcome record of a request: its tenant, source, receive time and four counts. */
function outcomeRecord(
  input: IngestInput,
  deps: IngestDeps,
  nowMs: number,
  events: number,
  queued: number,
  duplicates: ReadonlySet<number>,
  copies: ReadonlySet<number>,
): EventEnvelope {
  const value: IngestOutcome = {
    type: INGEST_OUTCOME_TYPE,
    v: 1,
    tenant: input.tenant,
    source: input.source,
    requestId: deps.newEventId(),
    receivedAtMs: nowMs,
    accepted: queued,
    duplicates: duplicates.size,
    rejected: events - queued - duplicates.size,
    copies: copies.size,
  };
  return {
    key: ingestOutcomeKey(value.tenant, value.requestId),
    value,
    valueJson: JSON.stringify(value),
  };
}
