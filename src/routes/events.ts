/** `POST /v1/events`: website events (one, or `{ events: [...] }`) from browsers and sites, with per-tenant CORS. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import {
  type EventSource,
  eventsResponseSchema,
  MAX_EVENTS_PER_REQUEST,
  websiteRequestSchema,
} from "#core/events";
import type { AppEnv } from "../app-env";
import { chargeBudgets, requestBytes } from "../auth/charge-budgets";
import { requireKey } from "../auth/require-key";
import { corsPreflight, requireTenantOrigin } from "../auth/tenant-cors";
import { acceptAccessToken } from "../ingest/accept-access-token";
import { ingestEvents } from "../ingest/ingest-events";
import {
  browserRequestContext,
  ingestBodyLimit,
  ingestDeps,
  ingestKeyKind,
  recordRejections,
} from "../ingest/ingest-request";
import { readEventsBody } from "../ingest/read-events-body";
import { AUTH_ERRORS, errorResponses } from "./error-responses";

// Rebuilt with zod-openapi's `z`: schemas of the pure core have no `.openapi()`.
export const EventsResponse = z.object(eventsResponseSchema.shape).openapi("EventsResponse", {
  description:
    "One result per event in request order: accepted (queued for Kafka), duplicate (the same tenant, event_name and event_id arrived within 48 h) or rejected (with the fields and why).",
});

/** Credentials the event routes take: the Bearer header, or Meta's `access_token` parameter. */
export const INGEST_SECURITY: Record<string, string[]>[] = [
  { bearerAuth: [] },
  { accessToken: [] },
];

/**
 * What every event route runs before its handler, in this order: the body size limit before
 * anything reads the body, the key (Bearer header or `access_token`) before the tenant's origin check.
 */
export function ingestMiddleware(source: EventSource): MiddlewareHandler<AppEnv>[] {
  return [ingestBodyLimit, acceptAccessToken(source), requireKey("ingest"), requireTenantOrigin()];
}

export const AccessTokenQuery = z
  .string()
  .optional()
  .openapi({
    param: { name: "access_token", in: "query" },
    description:
      "An ingest API key, for callers that cannot set an Authorization header (navigator.sendBeacon) or that speak Meta's Graph API. Prefer the header: query strings end up in logs.",
  });

const websiteEventsRoute = createRoute({
  method: "post",
  path: "/v1/events",
  tags: ["events"],
  summary: "Ingest website events",
  description: [
    `One website event, or \`{ "events": [ … ] }\` with up to ${MAX_EVENTS_PER_REQUEST}. Each event is validated on its own (Meta's field names; \`event_time\` at most 7 days old and at most 5 minutes ahead), its customer information normalised and SHA-256 hashed as Meta's Business SDK does, scored for match quality, deduplicated on (tenant, event_name, event_id) for 48 h (an event of a browser key, or one sent from a page, never claims a server event's id, and is a duplicate of a server event already seen) and queued for the \`events\` Kafka topic. The 202 comes after the queue has taken every accepted event. A bad event is rejected alone; 400 is only for a body that is not usable at all.`,
    "",
    "**Browsers.** Use a key with only the `ingest` role (it can be published in a page: it can send events and nothing else) and list the site's origins for the tenant (`npm run keys:create -- --tenant <id> --roles ingest --origins https://shop.example`). Requests with an `Origin` outside that list get a 403; preflights are answered for any origin. `navigator.sendBeacon` cannot set headers: put the key in `?access_token=` and send the JSON as a string (it goes out as `text/plain`, which needs no preflight). `client_ip_address` and `client_user_agent` default to the request's `CF-Connecting-IP` and `User-Agent`.",
    "",
    "```js",
    "navigator.sendBeacon(",
    '  "https://<worker>/v1/events?access_token=dl_…",',
    '  JSON.stringify({ event_name: "Purchase", event_time: Date.now(), event_id: orderId,',
    '    event_source_url: location.href, user_data: { em: email, fbp: getCookie("_fbp") },',
    '    custom_data: { value: 49.9, currency: "EUR" } }));',
    "```",
    "",
    "Needs the `ingest` role.",
  ].join("\n"),
  security: INGEST_SECURITY,
  middleware: ingestMiddleware("web"),
  request: {
    query: z.object({ access_token: AccessTokenQuery }),
    body: {
      required: true,
      description:
        "JSON, as `application/json` or `text/plain` (sendBeacon). The schema is checked per event, so one bad event does not fail the request.",
      content: {
        // Plain JSON Schema objects (not zod) keep zod-openapi from validating the whole body at
        // once: events are validated one by one in the event core.
        "application/json": { schema: { $ref: "#/components/schemas/WebsiteEventsRequest" } },
        "text/plain": { schema: { $ref: "#/components/schemas/WebsiteEventsRequest" } },
      },
    },
  },
  responses: {
    202: {
      description: "Every event answered; the accepted ones are durably queued",
      content: { "application/json": { schema: EventsResponse } },
    },
    ...errorResponses(400, 413, 415, ...AUTH_ERRORS),
  },
});

export const eventRoutes = new OpenAPIHono<AppEnv>();

// Wrapped with zod-openapi's `z` for registering (the registry needs `.openapi()`).
eventRoutes.openAPIRegistry.register(
  "WebsiteEventsRequest",
  z.union(websiteRequestSchema.options).openapi({
    description: `One website event, or { "events": [ up to ${MAX_EVENTS_PER_REQUEST} events ] }.`,
  }),
);
eventRoutes.openAPIRegistry.registerComponent("securitySchemes", "accessToken", {
  type: "apiKey",
  in: "query",
  name: "access_token",
  description:
    "A Driftline API key as Meta's `access_token` parameter (query; the CAPI route also reads it from the body), for senders that cannot set the Authorization header.",
});

// Browsers preflight cross-origin JSON posts with an Authorization header.
eventRoutes.on("OPTIONS", "/v1/events", corsPreflight({ methods: ["POST"] }), (c) =>
  c.body(null, 204, { Allow: "POST, OPTIONS" }),
);

eventRoutes.openapi(websiteEventsRoute, async (c) => {
  const { body, eventCount, storableText } = await readEventsBody(c.req, "web");
  await chargeBudgets(c, { events: eventCount, bytes: await requestBytes(c) });
  const result = await ingestEvents({
    deps: ingestDeps(c),
    tenant: c.var.auth.tenant,
    keyKind: ingestKeyKind(c),
    keepForwardingFields: await c.var.services.ingest.forwarding.isForwarding(c.var.auth.tenant),
    source: "web",
    storableText,
    body,
    requestContext: browserRequestContext(c),
  });
  recordRejections(c, "web", result.rejected);
  return c.json(result, 202);
});
