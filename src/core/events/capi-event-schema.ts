/** Wire schemas of Meta's Conversions API: the server event, its custom/app data and the request body. */

import { z } from "zod";
import { storableString } from "../text/index.ts";
import { userDataInputSchema } from "./user-data-schema.ts";
import { requiredOr } from "./zod-issues.ts";

// Field names, types and value sets follow Meta's Conversions API parameter reference (main body,
// server event, customer information, custom data, app data and original event data parameters)
// and the facebook-nodejs-business-sdk classes that serialise them. These schemas describe shape
// only; rules that span fields (what each action_source requires, the event-time window, Purchase
// needing value and currency) are checked in `prepareEvents`, so that every problem of an event is
// reported with its field path.

/** Most events in one request, as Meta's Conversions API allows. */
export const MAX_EVENTS_PER_REQUEST = 1000;

export const ACTION_SOURCES = [
  "email",
  "website",
  "app",
  "phone_call",
  "chat",
  "physical_store",
  "system_generated",
  "business_messaging",
  "other",
] as const;
export type ActionSource = (typeof ACTION_SOURCES)[number];

export const DELIVERY_CATEGORIES = ["in_store", "curbside", "home_delivery"] as const;

export const httpUrlSchema = z
  .url({ protocol: /^https?$/, error: "must be an absolute http(s) URL" })
  .max(8192, "must be at most 8192 characters");

// zod reports the failing branch's own issue when a value has the type of one union member, so
// each member carries the same message as the union itself.

/** A number, or a decimal string as the SDK's `parseFloat` would read it (`"12.50"`). */
export const decimalSchema = z.union(
  [z.number().finite(), z.string().regex(/^\s*-?\d+(\.\d+)?\s*$/, "must be a number")],
  { error: "must be a number" },
);

/** Unix seconds; Meta documents an integer, form-encoded senders send it as digits. */
const UNIX_SECONDS = "must be a Unix timestamp in seconds (an integer)";
const unixSeconds = z.union(
  [
    z.int({ error: UNIX_SECONDS }).nonnegative(UNIX_SECONDS),
    z.string().regex(/^\d{1,12}$/, UNIX_SECONDS),
  ],
  { error: requiredOr(UNIX_SECONDS) },
);

/** Meta's event_id is a string; some senders pass a number, which is read as its decimal text. */
const EVENT_ID = "must be a non-empty string of at most 512 characters";
export const eventIdSchema = z.union(
  [
    z.string().min(1, EVENT_ID).max(512, EVENT_ID),
    z.int({ error: EVENT_ID }).nonnegative(EVENT_ID),
  ],
  { error: EVENT_ID },
);

const flag = z.union([z.boolean(), z.literal(0), z.literal(1)], {
  error: "must be true, false, 0 or 1",
});

const PRODUCT_ID = "must be a product id (string or number)";
export const contentSchema = z.looseObject({
  id: z.union([z.string().min(1, PRODUCT_ID).max(512, PRODUCT_ID), z.number()], {
    error: requiredOr(PRODUCT_ID),
  }),
  quantity: z.number().nonnegative().optional(),
  item_price: decimalSchema.optional(),
  title: z.string().max(1024).optional(),
  description: z.string().max(4096).optional(),
  brand: z.string().max(512).optional(),
  category: z.string().max(512).optional(),
  delivery_category: z.enum(DELIVERY_CATEGORIES).optional(),
});

/**
 * Meta's custom data parameters. Any other key is a custom property and is kept as sent: Meta
 * forbids personal data in custom properties and so does Driftline (it cannot hash free-form keys).
 */
const ORDER_ID = "must be a non-empty string of at most 512 characters";
const COUNT = "must be a whole number";
export const customDataSchema = z.looseObject({
  value: decimalSchema.optional(),
  currency: z
    .string()
    .regex(/^\s*[A-Za-z]{3}\s*$/, "must be an ISO 4217 currency code such as USD")
    .optional(),
  content_name: z.string().max(1024).optional(),
  content_category: z.string().max(1024).optional(),
  content_ids: z
    .array(z.union([z.string(), z.number()]))
    .max(10_000)
    .optional(),
  contents: z.array(contentSchema).max(10_000).optional(),
  content_type: z.string().max(64).optional(),
  order_id: z
    .union([z.string().min(1, ORDER_ID).max(512, ORDER_ID), z.int({ error: ORDER_ID })], {
      error: ORDER_ID,
    })
    .optional(),
  predicted_ltv: decimalSchema.optional(),
  net_revenue: decimalSchema.optional(),
  num_items: z
    .union([z.int({ error: COUNT }).nonnegative(COUNT), z.string().regex(/^\d+$/, COUNT)], {
      error: COUNT,
    })
    .optional(),
  search_string: z.string().max(4096).optional(),
  status: z.string().max(512).optional(),
  item_number: z.string().max(512).optional(),
  delivery_category: z.enum(DELIVERY_CATEGORIES).optional(),
});
export type CustomDataInput = z.infer<typeof customDataSchema>;

/**
 * Meta's app data parameters (required for `action_source: "app"`). `extinfo` is the extended
 * device information array: index 0 the version (`a2` Android, `i2` iOS), 4 the OS version, all
 * others optional but positional (empty strings as placeholders), 16 entries at most.
 */
export const appDataSchema = z.looseObject({
  advertiser_tracking_enabled: flag.optional(),
  application_tracking_enabled: flag.optional(),
  extinfo: z
    .array(z.union([z.string(), z.number()]))
    .min(5, "needs at least the version (index 0) to the OS version (index 4)")
    .max(16, "has at most 16 entries")
    .optional(),
  campaign_ids: z.string().optional(),
  install_referrer: z.string().optional(),
  installer_package: z.string().optional(),
  url_schemes: z.array(z.string()).optional(),
  vendor_id: z.string().optional(),
  windows_attribution_id: z.string().optional(),
});
export type AppDataInput = z.infer<typeof appDataSchema>;

export const originalEventDataSchema = z.looseObject({
  event_name: z.string().min(1).max(256),
  event_time: unixSeconds,
  order_id: z.string().max(512).optional(),
  event_id: z.string().max(512).optional(),
});

/** One server event as Meta's Conversions API accepts it. Unknown top-level keys are dropped. */
export const capiServerEventSchema = z.object({
  event_name: z.string().min(1).max(256),
  event_time: unixSeconds,
  user_data: userDataInputSchema,
  custom_data: customDataSchema.optional(),
  event_source_url: httpUrlSchema.optional(),
  opt_out: z.boolean().optional(),
  event_id: eventIdSchema.optional(),
  action_source: z.enum(ACTION_SOURCES, {
    error: requiredOr(`must be one of ${ACTION_SOURCES.join(", ")}`),
  }),
  data_processing_options: z.array(z.literal("LDU", { error: 'only "LDU" is defined' })).optional(),
  data_processing_options_country: z.int().nonnegative().optional(),
  data_processing_options_state: z.int().nonnegative().optional(),
  referrer_url: httpUrlSchema.optional(),
  customer_segmentation: z.record(z.string(), z.unknown()).optional(),
  app_data: appDataSchema.optional(),
  original_event_data: originalEventDataSchema.optional(),
  attribution_data: z.record(z.string(), z.unknown()).optional(),
  messaging_channel: z.string().min(1).max(64).optional(),
  advanced_measurement_table: z.string().max(256).optional(),
  advertiser_tracking_enabled: z.boolean().optional(),
});
export type CapiServerEventInput = z.infer<typeof capiServerEventSchema>;

const requestFields = {
  test_event_code: storableString.min(1).max(256).optional(),
  partner_agent: storableString.min(1).max(256).optional(),
};

/**
 * The request body as a route should validate it: the envelope only. Each element of `data` is
 * checked on its own by `prepareEvents`, so one bad event is rejected without failing the batch.
 */
export const capiRequestEnvelopeSchema = z.looseObject({
  data: z
    .array(z.unknown())
    .min(1, "must hold at least one event")
    .max(MAX_EVENTS_PER_REQUEST, `holds at most ${MAX_EVENTS_PER_REQUEST} events per request`),
  ...requestFields,
});

/** The full request body, events included: for the OpenAPI document. */
export const capiRequestSchema = z.object({
  data: z.array(capiServerEventSchema).min(1).max(MAX_EVENTS_PER_REQUEST),
  ...requestFields,
});
export type CapiRequest = z.infer<typeof capiRequestSchema>;
