/** Validates, normalises and hashes one batch of website or CAPI events into Kafka messages, event by event. */

import { type FieldIssue, ValidationError } from "../errors.ts";
import { findTextIssues, isStorableText, type TextIssue, textIssueMessage } from "../text/index.ts";
import {
  buildEventMessage,
  isEmpty,
  type MessageContext,
  oversizeBytes,
} from "./build-event-message.ts";
import { capiRequestEnvelopeSchema } from "./capi-event-schema.ts";
import { draftCapiEvent } from "./draft-capi-event.ts";
import {
  draftWebsiteEvent,
  type RequestContext,
  usableRequestContext,
} from "./draft-website-event.ts";
import { readEventId } from "./event-draft.ts";
import {
  type EventMessage,
  type EventSource,
  eventDedupKeys,
  eventMessageKey,
  type KeyKind,
} from "./event-message-schema.ts";
import {
  checkEventTimeWindow,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  MAX_EVENT_AGE_MS,
} from "./event-time.ts";
import { createUserDataNormalizer, type NormalizedUserData } from "./normalize-user-data.ts";
import { queryTextIssues } from "./query-params.ts";
import { DEFAULT_URL_QUERY_ALLOWLIST, type UrlQueryAllowlist } from "./url-query-allowlist.ts";
import type { UserDataInput } from "./user-data-schema.ts";
import { websiteRequestEnvelopeSchema } from "./website-event-schema.ts";
import { fieldAt, joinPath, missingIsRequired, toFieldIssues } from "./zod-issues.ts";

export interface PrepareEventsOptions {
  /** Oldest accepted event, relative to `nowMs`. Default 7 days (Meta's limit). */
  maxAgeMs: number;
  /** Furthest accepted event ahead of `nowMs`. Default 5 minutes. */
  maxFutureSkewMs: number;
  /**
   * Largest accepted message, UTF-8 JSON bytes. Default 100,000: a Cloudflare Queues message
   * holds at most 128 KB and the queue envelope needs room too.
   */
  maxMessageBytes: number;
  /** Query parameters kept in event_source_url and referrer_url. Default utm_* and click ids. */
  urlQueryAllowlist: UrlQueryAllowlist;
}

export const DEFAULT_PREPARE_EVENTS_OPTIONS: Readonly<PrepareEventsOptions> = {
  maxAgeMs: MAX_EVENT_AGE_MS,
  maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
  maxMessageBytes: 100_000,
  urlQueryAllowlist: DEFAULT_URL_QUERY_ALLOWLIST,
};

export interface PrepareEventsInput {
  tenant: string;
  /** `web` for `POST /v1/events`, `capi` for `POST /v1/capi/{pixelId}/events`. */
  source: EventSource;
  pixelId?: string;
  /** The parsed JSON request body, unvalidated. */
  body: unknown;
  /** The receive time, epoch ms; the event-time window is measured from it. */
  nowMs: number;
  /** Issues an id for an accepted event that came without event_id (e.g. `crypto.randomUUID`). */
  newEventId: () => string;
  /** Only for `web`: fills client_ip_address / client_user_agent the event leaves out. */
  requestContext?: RequestContext;
  /** The kind of key that sent the batch; decides the dedup namespace (see `eventDedupKey`). */
  keyKind?: KeyKind;
  /** False for a tenant without a forwarding destination: see `MessageContext.keepForwardingFields`. */
  keepForwardingFields?: boolean;
  /**
   * True when the caller found on the body's JSON text that every string in it is storable
   * (`jsonMayHoldUnstorableText` from `#core/text`): the per-event walk for lone surrogates and
   * U+0000 is skipped. Leave it out for a body not parsed from JSON text.
   */
  storableText?: boolean;
  options?: Partial<PrepareEventsOptions>;
}

/** An event that passed every check; it still has to pass deduplication. */
export interface AcceptedEventCandidate {
  index: number;
  status: "accepted";
  eventId: string;
  message: EventMessage;
  /** `JSON.stringify(message)`, made once for the size check; send this rather than serialise again. */
  messageJson: string;
  /** Kafka key, `tenant:event_id`. */
  messageKey: string;
  /** Deduplication key (a hash of tenant, event_name, event_id and key kind); see `eventDedupKey`. */
  dedupKey: string;
  /** The key of the other kind of sender's copy (browser vs server): held means a cross-source copy. */
  otherDedupKey: string;
}

export interface RejectedEvent {
  index: number;
  status: "rejected";
  /** The sender's event_id when it could be read, else null. */
  eventId: string | null;
  errors: FieldIssue[];
}

export type PreparedEvent = AcceptedEventCandidate | RejectedEvent;

export interface PreparedBatch {
  /** One entry per event, in request order (`index` = position in the request). */
  results: PreparedEvent[];
  testEventCode?: string;
}

/**
 * Checks every event of a request on its own and builds the Kafka message of each good one.
 *
 * Per event: the schema (Meta's field names and types), what the event's action_source requires,
 * the event-time window, Purchase value + currency, and customer information normalised and
 * SHA-256 hashed as Meta's Business SDK does. A bad event is rejected with field-level errors
 * (`data.3.user_data.em`); the others go on. Raw contact data never reaches a message.
 *
 * Throws `ValidationError` only when the body as a whole is unusable (not a CAPI body, no events,
 * more than 1000). Pure: time and ids come from `nowMs` and `newEventId`.
 */
export async function prepareEvents(input: PrepareEventsInput): Promise<PreparedBatch> {
  const options = { ...DEFAULT_PREPARE_EVENTS_OPTIONS, ...input.options };
  const batch = readEnvelope(input.source, input.body);
  // One normaliser per batch: events of a batch share many contact values (see its doc).
  const normalize = createUserDataNormalizer();
  // The request's context is the same for all its events: checked once, not per event.
  const perEvent =
    input.requestContext === undefined
      ? input
      : { ...input, requestContext: usableRequestContext(input.requestContext) };
  const context: MessageContext = {
    tenant: input.tenant,
    source: input.source,
    pixelId: input.pixelId,
    nowMs: input.nowMs,
    testEventCode: batch.testEventCode,
    partnerAgent: batch.partnerAgent,
    keyKind: input.keyKind,
    keepForwardingFields: input.keepForwardingFields,
  };
  const results: PreparedEvent[] = new Array(batch.events.length);
  for (let index = 0; index < batch.events.length; index++) {
    results[index] = prepareOne(
      perEvent,
      options,
      context,
      batch.events[index],
      index,
      batch.prefix(index),
      normalize,
    );
  }
  const out: PreparedBatch = { results };
  if (batch.testEventCode !== undefined) out.testEventCode = batch.testEventCode;
  return out;
}

interface Envelope {
  events: unknown[];
  prefix: (index: number) => PropertyKey[];
  testEventCode?: string;
  partnerAgent?: string;
}

function readEnvelope(source: EventSource, body: unknown): Envelope {
  if (source === "capi") {
    const parsed = capiRequestEnvelopeSchema.safeParse(body, { error: missingIsRequired });
    if (!parsed.success) {
      throw new ValidationError(
        'The body must be a Conversions API request: { "data": [ 1 to 1000 server events ], "test_event_code"?: "…" }.',
        toFieldIssues(parsed.error, []),
      );
    }
    const envelope: Envelope = { events: parsed.data.data, prefix: (i) => ["data", i] };
    if (parsed.data.test_event_code !== undefined) {
      envelope.testEventCode = parsed.data.test_event_code;
    }
    if (parsed.data.partner_agent !== undefined) envelope.partnerAgent = parsed.data.partner_agent;
    return envelope;
  }
  const parsed = websiteRequestEnvelopeSchema.safeParse(body, { error: missingIsRequired });
  if (!parsed.success) {
    throw new ValidationError(
      'The body must be one website event or { "events": [ 1 to 1000 events ] }.',
      toFieldIssues(parsed.error, []),
    );
  }
  if (parsed.data.events !== undefined) {
    return { events: parsed.data.events, prefix: (i) => ["events", i] };
  }
  return { events: [body], prefix: () => [] };
}

/** Text issues listed per event at most. */
const MAX_TEXT_ISSUES = 10;
const NO_TEXT_ISSUES: readonly TextIssue[] = [];

function prepareOne(
  input: PrepareEventsInput,
  options: PrepareEventsOptions,
  context: MessageContext,
  raw: unknown,
  index: number,
  prefix: PropertyKey[],
  normalize: (userData: UserDataInput) => NormalizedUserData,
): PreparedEvent {
  // Any text of the event, known field or custom property, travels on to Kafka and Postgres.
  // Checked before the schema, whose issue paths would name a bad key; not walked at all when
  // the caller vouched for the body's text (`storableText`).
  const textIssues =
    input.storableText === true ? NO_TEXT_ISSUES : findTextIssues(raw, MAX_TEXT_ISSUES);
  if (textIssues.length > 0) {
    const eventId = readEventId(raw);
    return {
      index,
      status: "rejected",
      eventId: eventId !== null && isStorableText(eventId) ? eventId : null,
      errors: textIssues.map((issue) => ({
        field: fieldAt(prefix, ...issue.path) || "(body)",
        message: textIssueMessage(issue),
      })),
    };
  }
  const draft =
    input.source === "capi"
      ? draftCapiEvent(raw, prefix, options.urlQueryAllowlist)
      : draftWebsiteEvent(raw, prefix, input.requestContext, options.urlQueryAllowlist);
  if (draft.kind === "invalid") {
    return { index, status: "rejected", eventId: draft.eventId, errors: draft.errors };
  }

  const errors = draft.errors;
  queryTextIssues(draft.utm, draft.clickIds, prefix, errors);

  const windowProblem = Number.isNaN(draft.eventTimeMs)
    ? null
    : checkEventTimeWindow(draft.eventTimeMs, input.nowMs, options);
  if (windowProblem !== null)
    errors.push({ field: fieldAt(prefix, "event_time"), message: windowProblem });

  const userData = normalize(draft.userData);
  for (const issue of userData.issues) {
    errors.push({ field: fieldAt(prefix, "user_data", issue.field), message: issue.message });
  }
  if (userData.issues.length === 0 && isEmpty(userData.hashed)) {
    errors.push({
      field: fieldAt(prefix, "user_data"),
      message: "needs at least one customer information parameter (em, ph, fbp, fbc, …)",
    });
  }
  if (draft.actionSource === "website" && userData.hashed.client_user_agent === undefined) {
    errors.push({
      field: fieldAt(prefix, "user_data", "client_user_agent"),
      message: "is required for website events",
    });
  }

  if (errors.length > 0) {
    return { index, status: "rejected", eventId: draft.eventId, errors };
  }

  const eventIdAssigned = draft.eventId === null;
  const eventId = draft.eventId ?? input.newEventId();
  const message = buildEventMessage(draft, userData.hashed, eventId, eventIdAssigned, context);
  const messageJson = JSON.stringify(message);
  const sizeBytes = oversizeBytes(messageJson, options.maxMessageBytes);
  if (sizeBytes !== null) {
    return {
      index,
      status: "rejected",
      eventId: draft.eventId,
      errors: [
        {
          field: prefix.length === 0 ? "body" : joinPath(prefix),
          message: `is ${sizeBytes} bytes once normalised; at most ${options.maxMessageBytes} bytes per event are accepted (trim custom_data)`,
        },
      ],
    };
  }

  const typed = message as unknown as EventMessage;
  const dedup = eventDedupKeys(typed);
  const candidate: AcceptedEventCandidate = {
    index,
    status: "accepted",
    eventId,
    message: typed,
    messageJson,
    messageKey: eventMessageKey(typed),
    dedupKey: dedup.key,
    otherDedupKey: dedup.otherKey,
  };
  return candidate;
}
