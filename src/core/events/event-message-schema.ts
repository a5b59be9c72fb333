/** The Kafka message for one accepted event (topics `events` and `capi`), schema version 1. */

import { z } from "zod";
import { ACTION_SOURCES, capiServerEventSchema } from "./capi-event-schema.ts";
import { MATCH_SIGNAL_WEIGHTS, MAX_MATCH_QUALITY, type MatchSignal } from "./match-quality.ts";
import { sha256Hex } from "./sha256-hex.ts";
import { hashedUserDataSchema } from "./user-data-schema.ts";

export const EVENT_MESSAGE_SCHEMA_VERSION = 1;

export const EVENT_SOURCES = ["web", "capi"] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/**
 * What sent an event: `browser`, a publishable key (one with allowed origins, made to be embedded
 * in web pages) or any request from a page (an Origin header); `server`, a secret server key.
 */
export const KEY_KINDS = ["browser", "server"] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export const CLICK_ID_PARAMS = [
  "fbclid",
  "gclid",
  "gbraid",
  "wbraid",
  "msclkid",
  "ttclid",
] as const;
export type ClickIdParam = (typeof CLICK_ID_PARAMS)[number];

/** The utm_* query parameters, without their prefix. */
export const UTM_PARAMS = ["source", "medium", "campaign", "term", "content", "id"] as const;
export type UtmParam = (typeof UTM_PARAMS)[number];

/**
 * `custom_data` after normalisation: numbers where Meta expects numbers (the SDK's `parseFloat`),
 * currency upper-cased. Custom properties are kept as sent.
 */
const normalizedCustomDataSchema = z.looseObject({
  value: z.number().finite().optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  predicted_ltv: z.number().finite().optional(),
  net_revenue: z.number().finite().optional(),
  num_items: z.int().nonnegative().optional(),
  order_id: z.string().optional(),
});

/**
 * The Meta server event as Driftline forwards it: Meta's own field names and shapes, `user_data`
 * hashed, `event_time` in Unix seconds, `event_id` always set. A consumer can POST a list of these
 * to Meta's Conversions API unchanged.
 */
export const metaServerEventSchema = capiServerEventSchema.extend({
  event_time: z.int().nonnegative(),
  event_id: z.string().min(1),
  user_data: hashedUserDataSchema,
  custom_data: normalizedCustomDataSchema.optional(),
});
export type MetaServerEvent = z.infer<typeof metaServerEventSchema>;

const signalNames = Object.keys(MATCH_SIGNAL_WEIGHTS) as [MatchSignal, ...MatchSignal[]];

export const eventMessageSchema = z.object({
  schemaVersion: z.literal(EVENT_MESSAGE_SCHEMA_VERSION),
  tenant: z.string().min(1),
  source: z.enum(EVENT_SOURCES),
  /** The Meta pixel (dataset) id from the CAPI route; absent for website events. */
  pixelId: z.string().min(1).optional(),
  eventId: z.string().min(1),
  /** True when the sender gave no event_id and Driftline assigned one. */
  eventIdAssigned: z.boolean(),
  eventName: z.string().min(1),
  /** When the event happened, epoch milliseconds (event time, drives the windows). */
  eventTimeMs: z.int().nonnegative(),
  /** When the Worker received it, epoch milliseconds. */
  receivedAtMs: z.int().nonnegative(),
  actionSource: z.enum(ACTION_SOURCES),
  matchQuality: z.object({
    score: z.number().min(0).max(MAX_MATCH_QUALITY),
    signals: z.array(z.enum(signalNames)),
  }),
  /** `custom_data.value`/`currency`, lifted for per-currency value sums. */
  value: z.number().finite().optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  /** Window key: `campaign` of a website event, else utm_campaign (explicit or from the URL). */
  campaign: z.string().min(1).optional(),
  utm: z.partialRecord(z.enum(UTM_PARAMS), z.string()).optional(),
  /** Ad click ids (explicit, from the URL's query, or fbclid from the fbc cookie). */
  clickIds: z.partialRecord(z.enum(CLICK_ID_PARAMS), z.string()).optional(),
  /** The Driftline prediction this conversion labels, when the sender knows it. */
  predictionId: z.string().min(1).optional(),
  /** The kind of key that sent the event; absent in messages of Workers that did not say (server). */
  keyKind: z.enum(KEY_KINDS).optional(),
  /**
   * True when the other kind of sender's copy of this event (same event_name and event_id) was
   * accepted first: forwarded to destinations like any event, left out of the metrics.
   */
  crossSourceCopy: z.literal(true).optional(),
  /** Meta's test_event_code: the sender marked the batch as a test. */
  testEventCode: z.string().optional(),
  partnerAgent: z.string().optional(),
  event: metaServerEventSchema,
});
export type EventMessage = z.infer<typeof eventMessageSchema>;

/** Kafka message key: `tenant:event_id` (the public contract). */
export function eventMessageKey(message: Pick<EventMessage, "tenant" | "eventId">): string {
  return `${message.tenant}:${message.eventId}`;
}

/**
 * The deduplication identity (tenant, event_name, event_id) in the namespace of the key kind that
 * claims it, as the 64 hex digits of SHA-256: a fixed size whatever the sender puts in its names
 * and ids, so a stored claim costs the same for every event. The hashed text joins the parts
 * URI-encoded, so that no choice of names can make two different identities hash the same text.
 *
 * Server events (`server`, and messages that name no kind) claim ids among server events only;
 * browser events claim them in their own namespace, so an event sent with a key published in a
 * web page can never pre-claim (and so suppress) a server event's id. A copy of the same event
 * from the other kind of sender is a cross-source copy, not a duplicate (see `eventDedupKeys`). A test event (Meta's `test_event_code`) is deduplicated among the events of
 * its test code only, so a live event that reuses a test event's id still counts.
 */
export function eventDedupKey(
  message: Pick<EventMessage, "tenant" | "eventName" | "eventId" | "testEventCode">,
  kind: KeyKind = "server",
): string {
  return sha256Hex(eventDedupIdentity(message, kind));
}

/**
 * The key an event claims (in its own sender kind's namespace) and the key of its copy from the
 * other kind of sender (browser vs server), whose presence makes it a cross-source copy: Meta's
 * browser/server pair, both forwarded with the shared event_id, counted once by the metrics.
 * Repeats from the same kind of sender collide on `key` and stay duplicates.
 */
export function eventDedupKeys(
  message: Pick<EventMessage, "tenant" | "eventName" | "eventId" | "testEventCode" | "keyKind">,
): { key: string; otherKey: string } {
  // The identity without its namespace is built once for both keys.
  const parts = identityParts(message);
  const server = sha256Hex(`server|${parts}`);
  const browser = sha256Hex(`browser|${parts}`);
  return message.keyKind === "browser"
    ? { key: browser, otherKey: server }
    : { key: server, otherKey: browser };
}

/**
 * The text hashed by `eventDedupKey`: `server|` or `browser|`, then tenant, event name and event id
 * URI-encoded and joined by ':' (the fourth part, `test=<code>`, cannot collide: encoded parts hold
 * no ':').
 */
export function eventDedupIdentity(
  message: Pick<EventMessage, "tenant" | "eventName" | "eventId" | "testEventCode">,
  kind: KeyKind = "server",
): string {
  return `${kind}|${identityParts(message)}`;
}

/** The identity's parts as `eventDedupIdentity` joins them after the namespace. */
function identityParts(
  message: Pick<EventMessage, "tenant" | "eventName" | "eventId" | "testEventCode">,
): string {
  const parts = `${encodePart(message.tenant)}:${encodePart(message.eventName)}:${encodePart(message.eventId)}`;
  return message.testEventCode === undefined
    ? parts
    : `${parts}:test=${encodePart(message.testEventCode)}`;
}

/** Characters `encodeURIComponent` leaves as they are. */
const URI_COMPONENT_SAFE = /^[A-Za-z0-9\-_.!~*'()]*$/;

/** A UTF-16 surrogate without its partner: text `encodeURIComponent` refuses (URIError). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * `encodeURIComponent`, without building a new string for the common text it would not change.
 * Text with a lone surrogate (valid in a JSON string, refused by `encodeURIComponent`) is written
 * as `%u` + four hex digits per UTF-16 unit: `encodeURIComponent` never emits `%u`, so such a key
 * cannot collide with the key of well-formed text.
 */
function encodePart(part: string): string {
  if (URI_COMPONENT_SAFE.test(part)) return part;
  if (!LONE_SURROGATE.test(part)) return encodeURIComponent(part);
  let out = "";
  for (let i = 0; i < part.length; i++) {
    out += `%u${part.charCodeAt(i).toString(16).padStart(4, "0")}`;
  }
  return out;
}
