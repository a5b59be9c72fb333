/** `GET /v1/webhooks/{id}/deliveries`: every delivery attempt to one endpoint, newest first. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { CursorParam, decodeCursor, LimitParam, pageOf } from "../read-api/read-params";
import { errorResponses } from "./error-responses";
import { iso, pageSchema } from "./read-shared";
import {
  WEBHOOKS_ERRORS,
  WEBHOOKS_READ,
  WEBHOOKS_SECURITY,
  WEBHOOKS_TAG,
  WebhookIdParam,
} from "./webhooks-shared";

const DeliverySchema = z
  .object({
    id: z.string(),
    eventId: z.string().openapi({ description: "The CloudEvent id, sent as `webhook-id`" }),
    eventType: z.string().openapi({ example: "dev.driftline.drift.changed" }),
    attempt: z.number().int().min(1),
    status: z.enum(["delivered", "failed"]),
    statusCode: z.number().int().optional().openapi({ description: "The receiver's HTTP status" }),
    error: z.string().optional().openapi({ description: "Why the attempt failed" }),
    durationMs: z.number().int(),
    attemptedAt: z.iso.datetime(),
    nextAttemptAt: z.iso.datetime().optional().openapi({
      description: "When the next attempt is due; absent when none will be made",
    }),
  })
  .openapi("WebhookDelivery");

const route = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}/deliveries",
  tags: [WEBHOOKS_TAG],
  summary: "List an endpoint's delivery attempts",
  description:
    "Every attempt to deliver an alert or a test event to the endpoint, newest first. Needs the `read` (or `admin`) role.",
  security: WEBHOOKS_SECURITY,
  middleware: WEBHOOKS_READ,
  request: {
    params: WebhookIdParam,
    query: z.object({ limit: LimitParam, cursor: CursorParam }),
  },
  responses: {
    200: {
      description: "A page of delivery attempts",
      content: {
        "application/json": { schema: pageSchema(DeliverySchema, "WebhookDeliveryPage") },
      },
    },
    ...errorResponses(404),
    ...WEBHOOKS_ERRORS,
  },
});

export const webhookDeliveriesRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const query = c.req.valid("query");
  const tenant = c.var.auth.tenant;
  const before = decodeCursor(query.cursor);
  if ((await c.var.webhooks.getEndpoint(tenant, id)) === undefined) {
    throw new NotFoundError(`No webhook endpoint "${id}" for this tenant.`);
  }
  const entries = await c.var.webhooks.listDeliveries({
    tenant,
    endpointId: id,
    ...(before === undefined ? {} : { before }),
    limit: query.limit,
  });
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map((d) => ({
        id: d.id,
        eventId: d.eventId,
        eventType: d.eventType,
        attempt: d.attempt,
        status: d.error === undefined ? ("delivered" as const) : ("failed" as const),
        ...(d.statusCode === undefined ? {} : { statusCode: d.statusCode }),
        ...(d.error === undefined ? {} : { error: d.error }),
        durationMs: d.durationMs,
        attemptedAt: iso(d.attemptedAtMs),
        ...(d.nextAttemptAtMs === undefined ? {} : { nextAttemptAt: iso(d.nextAttemptAtMs) }),
      })),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
