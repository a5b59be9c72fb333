/** `POST /v1/capi/{pixelId}/events`: Meta Conversions API request bodies, answered per event. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  capiMessages,
  capiRequestSchema,
  eventsResponseSchema,
  MAX_EVENTS_PER_REQUEST,
} from "#core/events";
import type { AppEnv } from "../app-env";
import { chargeBudgets, requestBytes } from "../auth/charge-budgets";
import { ingestEvents } from "../ingest/ingest-events";
import { ingestDeps, ingestKeyKind, recordRejections } from "../ingest/ingest-request";
import { readEventsBody } from "../ingest/read-events-body";
import { AUTH_ERRORS, errorResponses } from "./error-responses";
import { AccessTokenQuery, INGEST_SECURITY, ingestMiddleware } from "./events";

const PixelId = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, "must be 1 to 128 letters, digits, '_', '.' or '-'")
  .openapi({
    param: { name: "pixelId", in: "path" },
    description: "The Meta pixel (dataset) id the events belong to, as in Meta's endpoint.",
    example: "1234567890123456",
  });

const CapiEventsResponse = z
  .object({
    ...eventsResponseSchema.shape,
    events_received: z.int().nonnegative().openapi({
      description:
        "Meta's field: events taken in (accepted + duplicates), for senders that read Meta's answer.",
    }),
    messages: z.array(z.string()).openapi({
      description:
        "Meta's field: one line per event not accepted (duplicate or rejected, with why), for senders that log Meta's answer.",
    }),
    fbtrace_id: z.string().openapi({
      description: "Meta's field: the request's trace id (the same as the X-Request-Id header).",
    }),
  })
  .openapi("CapiEventsResponse");

const capiFormSchema: { type: "object"; required: string[]; properties: Record<string, object> } = {
  type: "object",
  required: ["data"],
  properties: {
    data: { type: "string", description: "The JSON array of server events, as text" },
    test_event_code: { type: "string" },
    partner_agent: { type: "string" },
    access_token: { type: "string", description: "A Driftline ingest key" },
  },
};

const capiEventsRoute = createRoute({
  method: "post",
  path: "/v1/capi/{pixelId}/events",
  tags: ["events"],
  summary: "Ingest Conversions API events (Meta-compatible)",
  description: [
    `The body Meta's Conversions API takes (\`{ "data": [ … up to ${MAX_EVENTS_PER_REQUEST} server events ], "test_event_code"? }\`, as JSON or as Graph API form fields), so a CAPI integration can send to Driftline unchanged apart from the address and the token. The API key may come as \`Authorization: Bearer\`, or as \`access_token\` in the query or the body like Meta's. Each event is validated on its own against Meta's rules (required fields per action_source, \`event_time\` at most 7 days old, Purchase needs value and currency), its customer information normalised and SHA-256 hashed as Meta's Business SDK does (already hashed values pass through; ip, user agent, fbc and fbp are never hashed), deduplicated on (tenant, event_name, event_id) for 48 h (among server events; an event of a browser key, or one sent from a page, never claims a server event's id) and queued for the \`capi\` Kafka topic. Unlike Meta, one bad event is rejected alone instead of failing the request.`,
    "",
    "Needs the `ingest` role.",
  ].join("\n"),
  security: INGEST_SECURITY,
  middleware: ingestMiddleware("capi"),
  request: {
    params: z.object({ pixelId: PixelId }),
    query: z.object({ access_token: AccessTokenQuery }),
    body: {
      required: true,
      description:
        "Meta's request body. Validated per event, so one bad event does not fail the request.",
      content: {
        // JSON Schema references, not zod: events are validated one by one in the event core.
        "application/json": { schema: { $ref: "#/components/schemas/CapiRequest" } },
        "application/x-www-form-urlencoded": { schema: capiFormSchema },
        "multipart/form-data": { schema: capiFormSchema },
      },
    },
  },
  responses: {
    202: {
      description: "Every event answered; the accepted ones are durably queued",
      content: { "application/json": { schema: CapiEventsResponse } },
    },
    ...errorResponses(400, 413, 415, ...AUTH_ERRORS),
  },
});

export const capiRoutes = new OpenAPIHono<AppEnv>();

// Wrapped with zod-openapi's `z` for registering (the registry needs `.openapi()`).
capiRoutes.openAPIRegistry.register(
  "CapiRequest",
  z.object(capiRequestSchema.shape).openapi({
    description: "Meta's Conversions API request body (the events endpoint's parameters).",
  }),
);

capiRoutes.openapi(capiEventsRoute, async (c) => {
  const { body, eventCount, storableText } = await readEventsBody(c.req, "capi");
  await chargeBudgets(c, { events: eventCount, bytes: await requestBytes(c) });
  const result = await ingestEvents({
    deps: ingestDeps(c),
    tenant: c.var.auth.tenant,
    keyKind: ingestKeyKind(c),
    keepForwardingFields: await c.var.services.ingest.forwarding.isForwarding(c.var.auth.tenant),
    source: "capi",
    storableText,
    pixelId: c.req.valid("param").pixelId,
    body,
  });
  recordRejections(c, "capi", result.rejected);
  return c.json(
    {
      ...result,
      events_received: result.accepted + result.duplicates,
      messages: capiMessages(result),
      fbtrace_id: c.var.requestId,
    },
    202,
  );
});
