/** The draft of one website event: parsed, filled from the request it came on, its URLs read. */

import { z } from "zod";
import type { FieldIssue } from "../errors.ts";
import { purchaseRequirements } from "./action-source-requirements.ts";
import {
  createEventReader,
  type DraftMetaEvent,
  type EventDraft,
  normalizeCustomData,
} from "./event-draft.ts";
import { websiteEventTimeMs } from "./event-time.ts";
import { flatString } from "./flat-string.ts";
import { hashEmailsInUrl, hashIfEmail } from "./hash-free-form-emails.ts";
import { queryParams, readClickIds, readUtm, stripEventUrl } from "./query-params.ts";
import { DEFAULT_URL_QUERY_ALLOWLIST, type UrlQueryAllowlist } from "./url-query-allowlist.ts";
import type { UserDataInput } from "./user-data-schema.ts";
import { websiteEventSchema } from "./website-event-schema.ts";

/** Facts about the browser request, for website events sent straight from a page. */
export interface RequestContext {
  /** E.g. the `CF-Connecting-IP` header. Used only when the event has no client_ip_address. */
  clientIpAddress?: string;
  /** The `User-Agent` header. Used only when the event has no client_user_agent. */
  userAgent?: string;
}

const readWebsiteEvent = createEventReader(websiteEventSchema);

export function draftWebsiteEvent(
  raw: unknown,
  prefix: PropertyKey[],
  context: RequestContext | undefined,
  allowlist: UrlQueryAllowlist = DEFAULT_URL_QUERY_ALLOWLIST,
): EventDraft {
  const read = readWebsiteEvent(raw, prefix);
  if (!read.ok) return read.draft;
  const e = read.event;
  const errors: FieldIssue[] = [];
  purchaseRequirements(e.event_name, e.custom_data, prefix, errors);
  const eventTimeMs = websiteEventTimeMs(e.event_time);

  // Query parameters off the allow-list dropped first, then email addresses in the rest hashed.
  const eventSourceUrl =
    e.event_source_url && hashEmailsInUrl(stripEventUrl(e.event_source_url, allowlist));
  const referrerUrl = e.referrer_url && hashEmailsInUrl(stripEventUrl(e.referrer_url, allowlist));
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
    // The campaign is a window key stored in Postgres: an email address there is hashed too.
    campaign: e.campaign === undefined ? utm.campaign : hashIfEmail(e.campaign),
    utm,
    clickIds,
    predictionId: e.prediction_id,
  };
}

const ipSchema = z.union([z.ipv4(), z.ipv6()]);

/** What of the request's context may fill an event: a non-empty user agent (cut to 4096), a well-formed ip. */
export function usableRequestContext(context: RequestContext): RequestContext {
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

/** A copy without the keys whose value is undefined, so messages carry no empty keys. */
function compact<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  const from = record as Record<string, unknown>;
  // for…in over an object literal, not Object.entries: no array per key, once per event.
  for (const key in from) if (from[key] !== undefined) out[key] = from[key];
  return out as T;
}
