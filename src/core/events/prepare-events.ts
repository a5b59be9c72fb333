/** Validates, normalises and hashes one batch of website or CAPI events into Kafka messages, event by event. */

import { z } from "zod";
import { type FieldIssue, ValidationError } from "../errors";
import {
  findTextIssues,
  isStorableText,
  TEXT_PROBLEM_MESSAGES,
  textIssueMessage,
  textProblem,
} from "../well-formed-text";
import {
  type CapiServerEventInput,
  type CustomDataInput,
  capiRequestEnvelopeSchema,
  capiServerEventSchema,
} from "./capi-event-schema";
import { compileFastParser, UNSURE } from "./compile-fast-parser";
import {
  CLICK_ID_PARAMS,
  type ClickIdParam,
  EVENT_MESSAGE_SCHEMA_VERSION,
  type EventMessage,
  type EventSource,
  eventDedupKey,
  eventMessageKey,
  type MetaServerEvent,
  UTM_PARAMS,
  type UtmParam,
} from "./event-message-schema";
import {
  capiEventTimeMs,
  checkEventTimeWindow,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  MAX_EVENT_AGE_MS,
  websiteEventTimeMs,
} from "./event-time";
import { flatString } from "./flat-string";
import { hashEmailsInUrl, hashEmailsInValue, hashIfEmail } from "./hash-free-form-emails";
import { computeMatchQuality } from "./match-quality";
import { createUserDataNormalizer, type NormalizedUserData } from "./normalize-user-data";
import type { UserDataInput } from "./user-data-schema";
import { websiteEventSchema, websiteRequestEnvelopeSchema } from "./website-event-schema";
import { joinPath, missingIsRequired, toFieldIssues } from "./zod-issues";

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
}

export const DEFAULT_PREPARE_EVENTS_OPTIONS: Readonly<PrepareEventsOptions> = {
  maxAgeMs: MAX_EVENT_AGE_MS,
  maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
  maxMessageBytes: 100_000,
};

/** Facts about the browser request, for website events sent straight from a page. */
export interface RequestContext {
  /** E.g. the `CF-Connecting-IP` header. Used only when the event has no client_ip_address. */
  clientIpAddress?: string;
  /** The `User-Agent` header. Used only when the event has no client_user_agent. */
  userAgent?: string;
}

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
  /** Deduplication identity (tenant, event_name, event_id); see `eventDedupKey`. */
  dedupKey: string;
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
  const results: PreparedEvent[] = new Array(batch.events.length);
  for (let index = 0; index < batch.events.length; index++) {
    results[index] = prepareOne(
      perEvent,
      options,
      batch,
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

function prepareOne(
  input: PrepareEventsInput,
  options: PrepareEventsOptions,
  envelope: Envelope,
  raw: unknown,
  index: number,
  prefix: PropertyKey[],
  normalize: (userData: UserDataInput) => NormalizedUserData,
): PreparedEvent {
  // Any text of the event, known field or custom property, travels on to Kafka and Postgres.
  // Checked before the schema, whose issue paths would name a bad key.
  const textIssues = findTextIssues(raw, MAX_TEXT_ISSUES);
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
      ? draftCapiEvent(raw, prefix)
      : draftWebsiteEvent(raw, prefix, input.requestContext);
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
  // Built key by key in the order of the message schema, leaving out undefined values.
  const event: Record<string, unknown> = {
    event_name: draft.event.event_name,
    event_time: Math.floor(draft.eventTimeMs / 1000),
    event_id: eventId,
  };
  // The draft's fields in their order, without those set here (and the CAPI input's own).
  const fields = draft.event as Record<string, unknown>;
  for (const key in fields) {
    if (OWN_EVENT_KEYS.has(key)) continue;
    const value = fields[key];
    if (value !== undefined) event[key] = value;
  }
  event.user_data = userData.hashed;
  if (draft.customData !== undefined) event.custom_data = draft.customData;

  const message: Record<string, unknown> = {
    schemaVersion: EVENT_MESSAGE_SCHEMA_VERSION,
    tenant: input.tenant,
    source: input.source,
  };
  if (input.pixelId !== undefined) message.pixelId = input.pixelId;
  message.eventId = eventId;
  message.eventIdAssigned = eventIdAssigned;
  message.eventName = event.event_name;
  message.eventTimeMs = Math.round(draft.eventTimeMs);
  message.receivedAtMs = Math.round(input.nowMs);
  if (event.action_source !== undefined) message.actionSource = event.action_source;
  message.matchQuality = computeMatchQuality(userData.hashed);
  if (draft.customData?.value !== undefined) message.value = draft.customData.value;
  if (draft.customData?.currency !== undefined) message.currency = draft.customData.currency;
  if (draft.campaign !== undefined) message.campaign = draft.campaign;
  if (!isEmpty(draft.utm)) message.utm = draft.utm;
  if (!isEmpty(draft.clickIds)) message.clickIds = draft.clickIds;
  if (draft.predictionId !== undefined) message.predictionId = draft.predictionId;
  if (envelope.testEventCode !== undefined) message.testEventCode = envelope.testEventCode;
  if (envelope.partnerAgent !== undefined) message.partnerAgent = envelope.partnerAgent;
  message.event = event;

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
  return {
    index,
    status: "accepted",
    eventId,
    message: typed,
    messageJson,
    messageKey: eventMessageKey(typed),
    dedupKey: eventDedupKey(typed),
  };
}

function isEmpty(record: object): boolean {
  for (const _ in record) return false;
  return true;
}

/**
 * Keys of a Meta event that `prepareOne` sets itself; a draft's `event` may carry them (a CAPI
 * draft's is the parsed input event, not a copy without them) and they are skipped.
 */
const OWN_EVENT_KEYS = new Set([
  "event_name",
  "event_time",
  "event_id",
  "user_data",
  "custom_data",
]);

/** The Meta event without event_time, event_id, user_data and custom_data (set once accepted). */
type DraftMetaEvent = Omit<
  MetaServerEvent,
  "event_time" | "event_id" | "user_data" | "custom_data"
>;

/** An event read far enough to normalise its user_data; `errors` are its field problems so far. */
type Draft =
  | { kind: "invalid"; eventId: string | null; errors: FieldIssue[] }
  | {
      kind: "draft";
      eventId: string | null;
      errors: FieldIssue[];
      /** NaN when event_time could not be read (already in `errors`). */
      eventTimeMs: number;
      actionSource: MetaServerEvent["action_source"];
      /** The event's other fields, in order; keys in OWN_EVENT_KEYS are skipped. */
      event: DraftMetaEvent;
      userData: UserDataInput;
      customData: MetaServerEvent["custom_data"];
      campaign: string | undefined;
      utm: Partial<Record<UtmParam, string>>;
      clickIds: Partial<Record<ClickIdParam, string>>;
      predictionId: string | undefined;
    };

// zod's interpreter is most of the validation cost in workerd (no JIT there); the fast parsers
// answer exactly as zod for the events they are sure of and leave the rest, errors included, to it.
// The queries (`URL.search`) of the URLs the fast parser accepted for the event being read, by
// their text: read without parsing the URL again. Filled and read synchronously, one event at a time.
const parsedUrls = new Map<string, string>();
const rememberUrl = (text: string, search: string) => parsedUrls.set(text, search);
const capiEventFastParser = compileFastParser(capiServerEventSchema, { onUrl: rememberUrl });
const websiteEventFastParser = compileFastParser(websiteEventSchema, { onUrl: rememberUrl });

function parseCapiEvent(raw: unknown) {
  parsedUrls.clear();
  const fast = capiEventFastParser.parse(raw);
  if (fast !== UNSURE) return { success: true as const, data: fast };
  return capiServerEventSchema.safeParse(raw, { error: missingIsRequired });
}

function parseWebsiteEvent(raw: unknown) {
  parsedUrls.clear();
  const fast = websiteEventFastParser.parse(raw);
  if (fast !== UNSURE) return { success: true as const, data: fast };
  return websiteEventSchema.safeParse(raw, { error: missingIsRequired });
}

function draftCapiEvent(raw: unknown, prefix: PropertyKey[]): Draft {
  const parsed = parseCapiEvent(raw);
  if (!parsed.success) {
    return {
      kind: "invalid",
      eventId: readEventId(raw),
      errors: toFieldIssues(parsed.error, prefix),
    };
  }
  const e = parsed.data;
  const errors: FieldIssue[] = [];

  let eventTimeMs = Number.NaN;
  const time = capiEventTimeMs(e.event_time);
  if (typeof time === "number") eventTimeMs = time;
  else errors.push({ field: fieldAt(prefix, "event_time"), message: time.message });

  actionSourceRequirements(e, prefix, errors);
  purchaseRequirements(e.event_name, e.custom_data, prefix, errors);

  const { user_data, custom_data } = e;
  // Email addresses in the URLs are hashed before anything reads them (see hashEmailsInUrl).
  if (e.event_source_url !== undefined) e.event_source_url = hashEmailsInUrl(e.event_source_url);
  if (e.referrer_url !== undefined) e.referrer_url = hashEmailsInUrl(e.referrer_url);
  const params = queryParams(e.event_source_url);
  const utm = readUtm(params, {});
  const predictionId = custom_data?.prediction_id;
  return {
    kind: "draft",
    eventId: e.event_id === undefined ? null : String(e.event_id),
    errors,
    eventTimeMs,
    actionSource: e.action_source,
    // Not a copy without user_data, custom_data, event_time and event_id: prepareOne skips them.
    event: e,
    userData: user_data,
    customData: normalizeCustomData(custom_data),
    campaign: utm.campaign,
    utm,
    clickIds: readClickIds(params, {}, user_data.fbc),
    predictionId:
      typeof predictionId === "string" && predictionId.length > 0 ? predictionId : undefined,
  };
}

function draftWebsiteEvent(
  raw: unknown,
  prefix: PropertyKey[],
  context: RequestContext | undefined,
): Draft {
  const parsed = parseWebsiteEvent(raw);
  if (!parsed.success) {
    return {
      kind: "invalid",
      eventId: readEventId(raw),
      errors: toFieldIssues(parsed.error, prefix),
    };
  }
  const e = parsed.data;
  const errors: FieldIssue[] = [];
  purchaseRequirements(e.event_name, e.custom_data, prefix, errors);
  const eventTimeMs = websiteEventTimeMs(e.event_time);

  const eventSourceUrl = e.event_source_url && hashEmailsInUrl(e.event_source_url);
  const referrerUrl = e.referrer_url && hashEmailsInUrl(e.referrer_url);
  const params = queryParams(eventSourceUrl);
  const utm = readUtm(params, {
    source: e.utm_source,
    medium: e.utm_medium,
    campaign: e.utm_campaign,
    term: e.utm_term,
    content: e.utm_content,
    id: e.utm_id,
  });
  const userData: UserDataInput = { ...e.user_data };
  const clickIds = readClickIds(params, e, userData.fbc);

  // Browser beacons rarely carry these; the request they arrived on does (see usableRequestContext).
  if (userData.client_user_agent === undefined && context?.userAgent !== undefined) {
    userData.client_user_agent = context.userAgent;
  }
  if (userData.client_ip_address === undefined && context?.clientIpAddress !== undefined) {
    userData.client_ip_address = context.clientIpAddress;
  }
  // Meta's documented fallback when the _fbc cookie is missing: fb.1.<first seen, ms>.<fbclid>.
  if (userData.fbc === undefined && clickIds.fbclid !== undefined && !/\s/.test(clickIds.fbclid)) {
    userData.fbc = flatString(`fb.1.${Math.round(eventTimeMs)}.${clickIds.fbclid}`);
  }

  const event: DraftMetaEvent = compact({
    event_name: e.event_name,
    action_source: "website" as const,
    event_source_url: eventSourceUrl,
    referrer_url: referrerUrl,
    opt_out: e.opt_out,
    data_processing_options: e.data_processing_options,
    data_processing_options_country: e.data_processing_options_country,
    data_processing_options_state: e.data_processing_options_state,
  });

  return {
    kind: "draft",
    eventId: e.event_id === undefined ? null : String(e.event_id),
    errors,
    eventTimeMs,
    actionSource: "website",
    event,
    userData,
    customData: normalizeCustomData(e.custom_data),
    campaign: e.campaign ?? utm.campaign,
    utm,
    clickIds,
    predictionId: e.prediction_id,
  };
}

const ipSchema = z.union([z.ipv4(), z.ipv6()]);

/** What of the request's context may fill an event: a non-empty user agent (cut to 4096), a well-formed ip. */
function usableRequestContext(context: RequestContext): RequestContext {
  const usable: RequestContext = {};
  if (context.userAgent) usable.userAgent = context.userAgent.slice(0, 4096);
  if (
    context.clientIpAddress !== undefined &&
    ipSchema.safeParse(context.clientIpAddress).success
  ) {
    usable.clientIpAddress = context.clientIpAddress;
  }
  return usable;
}

/**
 * The `field` of an issue at `path` inside the event at `prefix` (`data.3.user_data.em`). A
 * function rather than a closure per event: events are many, issues few.
 */
function fieldAt(prefix: readonly PropertyKey[], ...path: PropertyKey[]): string {
  return joinPath([...prefix, ...path]);
}

/** What Meta requires beyond the schema, by action_source (the CAPI parameter reference), into `issues`. */
function actionSourceRequirements(
  e: CapiServerEventInput,
  prefix: readonly PropertyKey[],
  issues: FieldIssue[],
): void {
  switch (e.action_source) {
    case "website":
      // client_user_agent is checked after user_data normalisation, for both routes.
      if (e.event_source_url === undefined) {
        issues.push({
          field: fieldAt(prefix, "event_source_url"),
          message: "is required for website events",
        });
      }
      break;
    case "app": {
      if (e.app_data === undefined) {
        issues.push({ field: fieldAt(prefix, "app_data"), message: "is required for app events" });
        break;
      }
      if (e.app_data.advertiser_tracking_enabled === undefined) {
        issues.push({
          field: fieldAt(prefix, "app_data", "advertiser_tracking_enabled"),
          message: "is required for app events (the iOS ATT permission: 0 or 1)",
        });
      }
      const extinfo = e.app_data.extinfo;
      if (extinfo === undefined) {
        issues.push({
          field: fieldAt(prefix, "app_data", "extinfo"),
          message: "is required for app events",
        });
      } else if (extinfo[0] !== "a2" && extinfo[0] !== "i2") {
        issues.push({
          field: fieldAt(prefix, "app_data", "extinfo", 0),
          message: 'must be "a2" (Android) or "i2" (iOS)',
        });
      }
      break;
    }
    case "business_messaging":
      if (e.messaging_channel === undefined) {
        issues.push({
          field: fieldAt(prefix, "messaging_channel"),
          message: "is required for business messaging events (e.g. whatsapp, messenger)",
        });
      }
      break;
    default:
      break;
  }
}

/** Meta requires value and currency on Purchase events; what is missing goes into `issues`. */
function purchaseRequirements(
  eventName: string,
  customData: CustomDataInput | undefined,
  prefix: readonly PropertyKey[],
  issues: FieldIssue[],
): void {
  if (eventName !== "Purchase") return;
  if (customData?.value === undefined) {
    issues.push({
      field: fieldAt(prefix, "custom_data", "value"),
      message: "is required for Purchase events",
    });
  }
  if (customData?.currency === undefined) {
    issues.push({
      field: fieldAt(prefix, "custom_data", "currency"),
      message: "is required for Purchase events",
    });
  }
}

/** Numbers where Meta expects numbers (the SDK's parseFloat), currency upper-cased. */
function normalizeCustomData(
  customData: CustomDataInput | undefined,
): MetaServerEvent["custom_data"] {
  if (customData === undefined) return undefined;
  // Custom properties are free-form: email addresses in them are hashed (hashEmailsInValue).
  const out: Record<string, unknown> = { ...hashEmailsInValue(customData) };
  for (const key of ["value", "predicted_ltv", "net_revenue"] as const) {
    const v = customData[key];
    if (v !== undefined) out[key] = typeof v === "number" ? v : Number.parseFloat(v);
  }
  if (customData.num_items !== undefined) out.num_items = Number(customData.num_items);
  if (customData.order_id !== undefined) out.order_id = String(customData.order_id);
  if (customData.currency !== undefined) out.currency = customData.currency.trim().toUpperCase();
  if (customData.contents !== undefined) {
    out.contents = customData.contents.map((c) =>
      c.item_price === undefined || typeof c.item_price === "number"
        ? c
        : { ...c, item_price: Number.parseFloat(c.item_price) },
    );
  }
  return out as MetaServerEvent["custom_data"];
}

function readEventId(raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const id = (raw as Record<string, unknown>).event_id;
  if (typeof id === "string" && id.length > 0 && id.length <= 512) return id;
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return String(id);
  return null;
}

/**
 * The event's own text was checked whole, but percent-decoding its URL's query can still yield
 * U+0000 (`%00`) in a utm value or click id the message carries; invalid UTF-8 decodes to U+FFFD,
 * so never to a lone surrogate. Reported on the URL, naming the parameter.
 */
function queryTextIssues(
  utm: Partial<Record<UtmParam, string>>,
  clickIds: Partial<Record<ClickIdParam, string>>,
  prefix: readonly PropertyKey[],
  errors: FieldIssue[],
): void {
  const check = (name: string, value: string | undefined) => {
    const problem = value === undefined ? undefined : textProblem(value);
    if (problem === undefined) return;
    errors.push({
      field: fieldAt(prefix, "event_source_url"),
      message: `has the query parameter ${name} that ${TEXT_PROBLEM_MESSAGES[problem]}`,
    });
  };
  for (const p of UTM_PARAMS) check(UTM_QUERY_NAMES[p], utm[p]);
  for (const p of CLICK_ID_PARAMS) check(p, clickIds[p]);
}

/** The query parameter of each utm field. */
const UTM_QUERY_NAMES = Object.fromEntries(UTM_PARAMS.map((p) => [p, `utm_${p}`])) as Record<
  UtmParam,
  string
>;

/** The query parameters Driftline reads (utm_* and click ids); only their first values matter. */
const QUERY_NAMES = new Set<string>([...UTM_PARAMS.map((p) => `utm_${p}`), ...CLICK_ID_PARAMS]);

/**
 * The first value of each parameter in `QUERY_NAMES`, as `URLSearchParams.get` would return it,
 * from one pass over the query (one `get` per name cost a dozen trips into the URL parser).
 */
function queryParams(url: string | undefined): Map<string, string> | undefined {
  // Without a "?" there is no query to parse.
  if (url === undefined || !url.includes("?")) return undefined;
  let search = parsedUrls.get(url);
  if (search === undefined) {
    try {
      search = new URL(url).search;
    } catch {
      return undefined;
    }
  }
  const first = new Map<string, string>();
  // The URL parser leaves the query ASCII (anything else percent-encoded). Without "%" and "+"
  // the form-urlencoded parser behind `searchParams` decodes nothing, so splitting the text at
  // "&" and the first "=" gives exactly its pairs, without building a URLSearchParams and an
  // array per pair (a twentieth of the CPU of a batch of website events).
  const query = search.slice(1);
  if (query.includes("%") || query.includes("+")) {
    // `search` with its "?", which URLSearchParams drops: the pairs of `url.searchParams`.
    for (const [name, value] of new URLSearchParams(search)) {
      if (QUERY_NAMES.has(name) && !first.has(name)) first.set(name, value);
    }
    return first;
  }
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (QUERY_NAMES.has(name) && !first.has(name))
      first.set(name, eq < 0 ? "" : pair.slice(eq + 1));
  }
  return first;
}

/** A query value worth keeping: present, non-blank, bounded; flat, as it goes into the message. */
function param(params: Map<string, string> | undefined, name: string): string | undefined {
  const value = params?.get(name)?.trim();
  return value && value.length <= 512 ? flatString(value) : undefined;
}

function readUtm(
  params: Map<string, string> | undefined,
  explicit: Partial<Record<UtmParam, string | undefined>>,
): Partial<Record<UtmParam, string>> {
  const utm: Partial<Record<UtmParam, string>> = {};
  for (const key of UTM_PARAMS) {
    const value = explicit[key] ?? param(params, UTM_QUERY_NAMES[key]);
    if (value !== undefined) utm[key] = hashIfEmail(value);
  }
  return utm;
}

function readClickIds(
  params: Map<string, string> | undefined,
  explicit: Partial<Record<ClickIdParam, string | undefined>>,
  fbc: string | undefined,
): Partial<Record<ClickIdParam, string>> {
  const ids: Partial<Record<ClickIdParam, string>> = {};
  for (const key of CLICK_ID_PARAMS) {
    const value = explicit[key] ?? param(params, key);
    if (value !== undefined) ids[key] = value;
  }
  // fbc = fb.<subdomain index>.<creation ms>.<fbclid>[.<appendix>]; fbclids contain no dots.
  if (ids.fbclid === undefined && fbc !== undefined) {
    const fbclid = fbc.split(".")[3];
    if (fbclid) ids.fbclid = flatString(fbclid);
  }
  return ids;
}

/** A copy without the keys whose value is undefined, so messages carry no empty keys. */
function compact<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  const from = record as Record<string, unknown>;
  // for…in over an object literal, not Object.entries: no array per key, once per event.
  for (const key in from) if (from[key] !== undefined) out[key] = from[key];
  return out as T;
}

const encoder = new TextEncoder();

/** The UTF-8 size of the message's JSON when it exceeds `limitBytes`, else null. */
function oversizeBytes(json: string, limitBytes: number): number | null {
  // At most 3 UTF-8 bytes per UTF-16 unit: most messages need no encoding to be known small.
  if (json.length * 3 <= limitBytes) return null;
  const bytes = encoder.encode(json).length;
  return bytes > limitBytes ? bytes : null;
}
