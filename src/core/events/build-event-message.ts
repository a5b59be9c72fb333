/** The Kafka message of an accepted event: its Meta event in schema order, plus what the stream reads. */

import { type EventDraft, OWN_EVENT_KEYS } from "./event-draft.ts";
import {
  EVENT_MESSAGE_SCHEMA_VERSION,
  type EventSource,
  type KeyKind,
} from "./event-message-schema.ts";
import { computeMatchQuality } from "./match-quality.ts";
import type { HashedUserData } from "./user-data-schema.ts";

/** What the message takes from the request rather than from the event. */
export interface MessageContext {
  tenant: string;
  source: EventSource;
  pixelId?: string | undefined;
  /** The receive time, epoch ms. */
  nowMs: number;
  testEventCode?: string | undefined;
  partnerAgent?: string | undefined;
  /** Which kind of key sent the event; absent for messages of producers that do not say. */
  keyKind?: KeyKind | undefined;
  /**
   * False: leave out of the message the user_data fields only a forwarding destination uses
   * (`FORWARDING_ONLY_FIELDS`: IP address, user agent, fbc, fbp). Their match-quality signals
   * still count. Default true.
   */
  keepForwardingFields?: boolean | undefined;
}

/**
 * Raw identifiers Meta matches on that the metrics never need: carried on Kafka only for tenants
 * with a destination that forwards them (and never stored in Postgres or logged).
 */
export const FORWARDING_ONLY_FIELDS = [
  "client_ip_address",
  "client_user_agent",
  "fbc",
  "fbp",
] as const;

/**
 * The message of a draft that passed every check, with `eventId` (the sender's, or one issued
 * when `eventIdAssigned`) and the hashed user_data.
 */
export function buildEventMessage(
  draft: Extract<EventDraft, { kind: "draft" }>,
  userData: HashedUserData,
  eventId: string,
  eventIdAssigned: boolean,
  context: MessageContext,
): Record<string, unknown> {
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
  event.user_data =
    context.keepForwardingFields === false ? withoutForwardingFields(userData) : userData;
  if (draft.customData !== undefined) event.custom_data = draft.customData;

  const message: Record<string, unknown> = {
    schemaVersion: EVENT_MESSAGE_SCHEMA_VERSION,
    tenant: context.tenant,
    source: context.source,
  };
  if (context.pixelId !== undefined) message.pixelId = context.pixelId;
  message.eventId = eventId;
  message.eventIdAssigned = eventIdAssigned;
  message.eventName = event.event_name;
  message.eventTimeMs = Math.round(draft.eventTimeMs);
  message.receivedAtMs = Math.round(context.nowMs);
  if (event.action_source !== undefined) message.actionSource = event.action_source;
  message.matchQuality = computeMatchQuality(userData);
  if (draft.customData?.value !== undefined) message.value = draft.customData.value;
  if (draft.customData?.currency !== undefined) message.currency = draft.customData.currency;
  if (draft.campaign !== undefined) message.campaign = draft.campaign;
  if (!isEmpty(draft.utm)) message.utm = draft.utm;
  if (!isEmpty(draft.clickIds)) message.clickIds = draft.clickIds;
  if (draft.predictionId !== undefined) message.predictionId = draft.predictionId;
  if (context.keyKind !== undefined) message.keyKind = context.keyKind;
  if (context.testEventCode !== undefined) message.testEventCode = context.testEventCode;
  if (context.partnerAgent !== undefined) message.partnerAgent = context.partnerAgent;
  message.event = event;

  return message;
}

function withoutForwardingFields(userData: HashedUserData): HashedUserData {
  const kept: Record<string, unknown> = {};
  for (const key in userData) {
    if (!(FORWARDING_ONLY_FIELDS as readonly string[]).includes(key)) {
      kept[key] = (userData as Record<string, unknown>)[key];
    }
  }
  return kept as HashedUserData;
}

export function isEmpty(record: object): boolean {
  for (const _ in record) return false;
  return true;
}

const encoder = new TextEncoder();

/** The UTF-8 size of the message's JSON when it exceeds `limitBytes`, else null. */
export function oversizeBytes(json: string, limitBytes: number): number | null {
  // At most 3 UTF-8 bytes per UTF-16 unit: most messages need no encoding to be known small.
  if (json.length * 3 <= limitBytes) return null;
  const bytes = encoder.encode(json).length;
  return bytes > limitBytes ? bytes : null;
}
