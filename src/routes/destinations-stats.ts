/** `GET /v1/destinations/{id}/stats`: what the delivery service forwarded to one destination and what it answered. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError, ValidationError } from "#core/errors";
import type { AppEnv } from "../app-env";
import {
  DESTINATIONS_ERRORS,
  DESTINATIONS_READ,
  DESTINATIONS_SECURITY,
  DESTINATIONS_TAG,
  DestinationIdParam,
} from "./destinations-shared";
import { errorResponses } from "./error-responses";

/** Longest range one statistics read covers. */
const MAX_RANGE_MS = 90 * 86_400_000;
const DEFAULT_RANGE_MS = 86_400_000;

const RecentSchema = z.object({
  at: z.iso.datetime(),
  status: z.enum(["delivered", "dead-lettered"]),
  events: z.int(),
  attempts: z.int(),
  httpStatus: z.int().nullable(),
  eventsReceived: z.int().nullable(),
  fbtraceId: z.string().nullable(),
  messages: z.array(z.string()),
  error: z.string().nullable(),
});

export const DestinationStatsSchema = z
  .object({
    id: z.string(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    batches: z.int(),
    delivered: z.object({ batches: z.int(), events: z.int(), eventsReceived: z.int() }),
    deadLettered: z.object({ batches: z.int(), events: z.int() }),
    retries: z.int().openapi({ description: "Transient failures retried before final answers" }),
    lastDeliveredAt: z.iso.datetime().nullable(),
    lastError: z
      .object({ at: z.iso.datetime(), error: z.string(), fbtraceId: z.string().nullable() })
      .nullable(),
    recent: z.array(RecentSchema).openapi({ description: "The newest 20 requests' answers" }),
  })
  .openapi("DestinationStats");

const route = createRoute({
  method: "get",
  path: "/v1/destinations/{id}/stats",
  tags: [DESTINATIONS_TAG],
  summary: "Delivery statistics of a destination",
  description:
    "Requests (batches of up to 1000 events) sent to the destination in [from, to) (default the last 24 h, at most 90 days): delivered and dead-lettered batches and events, Meta's events_received, retries, the last error with Meta's reason and fbtrace_id, and the newest answers. Needs `read` (or `admin`).",
  security: DESTINATIONS_SECURITY,
  middleware: DESTINATIONS_READ,
  request: {
    params: DestinationIdParam,
    query: z.object({
      from: z.iso.datetime({ offset: true }).optional(),
      to: z.iso.datetime({ offset: true }).optional(),
    }),
  },
  responses: {
    200: {
      description: "The statistics",
      content: { "application/json": { schema: DestinationStatsSchema } },
    },
    ...errorResponses(404),
    ...DESTINATIONS_ERRORS,
  },
});

export const destinationStatsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const q = c.req.valid("query");
  const toMs = q.to === undefined ? c.var.services.now().getTime() + 1 : Date.parse(q.to);
  const fromMs = q.from === undefined ? toMs - DEFAULT_RANGE_MS : Date.parse(q.from);
  if (fromMs >= toMs || toMs - fromMs > MAX_RANGE_MS) {
    throw new ValidationError("from must be before to, at most 90 days apart.", [
      { field: "from", message: "must be before to, at most 90 days apart" },
    ]);
  }
  const stats = await c.var.destinations.stats(c.var.auth.tenant, id, fromMs, toMs);
  if (stats === undefined) {
    throw new NotFoundError(
      `This tenant has no destination ${id}; GET /v1/destinations lists them.`,
    );
  }
  return c.json(
    { id, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), ...stats },
    200,
  );
});
