/** `GET /v1/models/{name}/performance`: performance per labelled window, provisional until attribution ends. */
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
import { errorResponses } from "./error-responses";
import { requireModel } from "./read-model-drift";
import {
  iso,
  ModelNameParam,
  OptionalIdentifier,
  pageSchema,
  READ_ERRORS,
  READ_MIDDLEWARE,
  READ_SECURITY,
  READ_TAG,
} from "./read-shared";

export const PerformanceEntrySchema = z
  .object({
    windowStart: z.iso.datetime(),
    windowEnd: z.iso.datetime(),
    version: z.string(),
    provisional: z.boolean().openapi({
      description:
        "True while the attribution window after windowEnd has not passed: conversions may still arrive and change the labels",
    }),
    n: z.number().int(),
    positives: z.number().int(),
    auc: z.number().nullable().openapi({ description: "Null when the window holds one class" }),
    logLoss: z.number(),
    brier: z.number(),
    calibration: z.array(
      z.object({ predicted: z.number(), observed: z.number(), n: z.number().int() }),
    ),
  })
  .openapi("PerformanceWindow");

const route = createRoute({
  method: "get",
  path: "/v1/models/{name}/performance",
  tags: [READ_TAG],
  summary: "Performance of a model per window",
  description:
    "AUC, log loss, Brier score and calibration per labelled window starting in [from, to) (default the last 24 h, at most 31 days), oldest first. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    params: z.object({ name: ModelNameParam }),
    query: z.object({
      version: OptionalIdentifier("version", "Only this version"),
      from: FromParam,
      to: ToParam,
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of performance windows",
      content: {
        "application/json": { schema: pageSchema(PerformanceEntrySchema, "PerformancePage") },
      },
    },
    ...errorResponses(404),
    ...READ_ERRORS,
  },
});

export const readModelPerformanceRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { name } = c.req.valid("param");
  const query = c.req.valid("query");
  const nowMs = c.var.services.now().getTime();
  const range = readRange(query, nowMs);
  const after = decodeCursor(query.cursor);
  const tenant = c.var.auth.tenant;
  const entries = await c.var.reads.listPerformance({
    tenant,
    model: name,
    ...range,
    ...(query.version === undefined ? {} : { version: query.version }),
    ...(after === undefined ? {} : { after }),
    limit: query.limit,
  });
  if (entries.length === 0) await requireModel(c.var.reads, tenant, name);
  const fallbackMs = c.var.services.reads.defaultAttributionWindowMs;
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map((e) => ({
        windowStart: iso(e.windowStartMs),
        windowEnd: iso(e.windowEndMs),
        version: e.version,
        // Stored as provisional by the processor (labels so far), or its attribution period has
        // not ended by the clock (conversions may still arrive late through the stream).
        provisional: e.provisional || e.windowEndMs + (e.attributionWindowMs ?? fallbackMs) > nowMs,
        n: e.n,
        positives: e.positives,
        auc: e.auc,
        logLoss: e.logLoss,
        brier: e.brier,
        calibration: e.calibration,
      })),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
