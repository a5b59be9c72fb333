/** Wire schema of Driftline's website event (`POST /v1/events`): a browser-friendly subset of Meta's server event. */

import { z } from "zod";
import {
  customDataSchema,
  eventIdSchema,
  httpUrlSchema,
  MAX_EVENTS_PER_REQUEST,
} from "./capi-event-schema.ts";
import { userDataInputSchema } from "./user-data-schema.ts";
import { requiredOr } from "./zod-issues.ts";

const shortText = z.string().min(1).max(512);

/**
 * `event_time` may be
 *   - a number of Unix **seconds** (below 1e11, fractions allowed: `1718000000.25`),
 *   - a number of Unix **milliseconds** (1e11 or more, e.g. `Date.now()`), or
 *   - an ISO 8601 date-time **with** a zone (`2024-06-10T08:30:00Z`, `…+02:00`).
 * 1e11 seconds is the year 5138 and 1e11 milliseconds is March 1973, and events must lie within
 * the last 7 days, so the two number forms cannot be confused. A date-time without a zone is
 * refused rather than guessed.
 */
const EVENT_TIME =
  "must be Unix seconds, Unix milliseconds or an ISO 8601 date-time with a zone (e.g. 2024-06-10T08:30:00Z)";
export const websiteEventTimeSchema = z.union(
  [z.number().finite().positive(EVENT_TIME), z.iso.datetime({ offset: true, error: EVENT_TIME })],
  { error: requiredOr(EVENT_TIME) },
);

export const websiteEventSchema = z.object({
  event_name: z.string().min(1).max(256),
  event_time: websiteEventTimeSchema,
  event_id: eventIdSchema.optional(),
  event_source_url: httpUrlSchema,
  referrer_url: httpUrlSchema.optional(),
  /** Only "website" is meaningful for this endpoint; server-side senders use the CAPI route. */
  action_source: z.literal("website", { error: 'must be "website" (or left out)' }).optional(),
  /**
   * Optional for browser beacons: the Worker fills client_ip_address and client_user_agent from
   * the request when they are missing.
   */
  user_data: userDataInputSchema.optional(),
  custom_data: customDataSchema.optional(),
  opt_out: z.boolean().optional(),
  data_processing_options: z.array(z.literal("LDU", { error: 'only "LDU" is defined' })).optional(),
  data_processing_options_country: z.int().nonnegative().optional(),
  data_processing_options_state: z.int().nonnegative().optional(),
  /** The campaign the event is counted under; defaults to `utm_campaign` (explicit or from the URL). */
  campaign: shortText.optional(),
  utm_source: shortText.optional(),
  utm_medium: shortText.optional(),
  utm_campaign: shortText.optional(),
  utm_term: shortText.optional(),
  utm_content: shortText.optional(),
  utm_id: shortText.optional(),
  /** A Driftline prediction this conversion labels (from `POST /v1/score`). */
  prediction_id: shortText.optional(),
  /** Ad click ids; when absent they are read from `event_source_url`'s query string. */
  fbclid: shortText.optional(),
  gclid: shortText.optional(),
  gbraid: shortText.optional(),
  wbraid: shortText.optional(),
  msclkid: shortText.optional(),
  ttclid: shortText.optional(),
});
export type WebsiteEventInput = z.infer<typeof websiteEventSchema>;

/**
 * The body as a route should validate it: `{ "events": [...] }` (a batch) or, without an `events`
 * key, one event object. The events themselves are checked one by one in `prepareEvents`.
 */
export const websiteRequestEnvelopeSchema = z.looseObject({
  events: z
    .array(z.unknown())
    .min(1, "must hold at least one event")
    .max(MAX_EVENTS_PER_REQUEST, `holds at most ${MAX_EVENTS_PER_REQUEST} events per request`)
    .optional(),
});

/** The full body, events included: for the OpenAPI document. */
export const websiteRequestSchema = z.union([
  z.object({ events: z.array(websiteEventSchema).min(1).max(MAX_EVENTS_PER_REQUEST) }),
  websiteEventSchema,
]);
