/** `GET /v1/alerts`: the tenant's alerts (drift, performance, retraining) with their CloudEvents. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import {
  CursorParam,
  decodeCursor,
  FromParam,
  LimitParam,
  pageOf,
  readRange,
  ToParam,
} from "../read-api/read-params";
import { ALERT_STATUSES } from "../read-api/read-store";
import {
  iso,
  OptionalIdentifier,
  pageSchema,
  READ_ERRORS,
  READ_MIDDLEWARE,
  READ_SECURITY,
  READ_TAG,
} from "./read-shared";

export const AlertSchema = z
  .object({
    id: z.string(),
    type: z.string().openapi({ example: "dev.driftline.drift.detected" }),
    status: z.enum(ALERT_STATUSES),
    model: z.string().nullable(),
    version: z.string().nullable(),
    createdAt: z.iso.datetime(),
    acknowledgedAt: z.iso.datetime().optional(),
    event: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The CloudEvent 1.0 as published" }),
  })
  .openapi("Alert");

const route = createRoute({
  method: "get",
  path: "/v1/alerts",
  tags: [READ_TAG],
  summary: "List alerts",
  description:
    "Alerts created in [from, to) (default the last 24 h, at most 31 days), oldest first, optionally by status, type and model. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    query: z.object({
      status: z
        .enum(ALERT_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
      type: z
        .string()
        .min(1)
        .max(256)
        .optional()
        .openapi({ param: { name: "type", in: "query" }, description: "A CloudEvent type" }),
      model: OptionalIdentifier("model", "Only alerts about this model"),
      from: FromParam,
      to: ToParam,
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of alerts",
      content: { "application/json": { schema: pageSchema(AlertSchema, "AlertPage") } },
    },
    ...READ_ERRORS,
  },
});

export const readAlertsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const query = c.req.valid("query");
  const range = readRange(query, c.var.services.now().getTime());
  const after = decodeCursor(query.cursor);
  const entries = await c.var.reads.listAlerts({
    tenant: c.var.auth.tenant,
    ...range,
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.type === undefined ? {} : { type: query.type }),
    ...(query.model === undefined ? {} : { model: query.model }),
    ...(after === undefined ? {} : { after }),
    limit: query.limit,
  });
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map((a) => ({
        id: a.id,
        type: a.type,
        status: a.status,
        model: a.model,
        version: a.version,
        createdAt: iso(a.createdAtMs),
        ...(a.acknowledgedAtMs === null ? {} : { acknowledgedAt: iso(a.acknowledgedAtMs) }),
        event: a.event,
      })),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
