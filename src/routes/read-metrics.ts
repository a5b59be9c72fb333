/** `GET /v1/metrics`: the tenant's windowed business metrics, the stream processor's read at the edge. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { metricsResponseSchema, readMetrics, windowSummarySchema } from "#core/read-models";
import type { AppEnv } from "../app-env";
import { READ_ERRORS, READ_MIDDLEWARE, READ_SECURITY, READ_TAG } from "./read-shared";

const q = (name: string, description: string, example?: string) =>
  z
    .string()
    .optional()
    .openapi({ param: { name, in: "query" }, description, ...(example ? { example } : {}) });

// Documented as strings; the core's schema (shared with the processor) parses them in the handler.
const MetricsQuery = z.object({
  from: q("from", "Start (epoch ms or ISO 8601 with zone); default `to` − 1 h"),
  to: q("to", "End, exclusive; default now"),
  granularity: q("granularity", "`minute` (default) or `hour`", "hour"),
  groupBy: q("groupBy", "Comma list of source, event_name, campaign", "event_name"),
  source: q("source", "Only this source (web, capi, …)"),
  event_name: q("event_name", "Only this event name", "Purchase"),
  campaign: q("campaign", "Only this campaign"),
});

const MetricsResponse = z
  .object({
    ...metricsResponseSchema.shape,
    windows: z.array(z.object(windowSummarySchema.shape).openapi("MetricsWindow")),
  })
  .openapi("Metrics");

const route = createRoute({
  method: "get",
  path: "/v1/metrics",
  tags: [READ_TAG],
  summary: "Windowed business metrics",
  description:
    "Counts, value sums per currency, match quality, conversions and predictions per event-time window (minute or hour), grouped and filtered as asked; the same query and body as the stream processor's /v1/metrics. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: { query: MetricsQuery },
  responses: {
    200: {
      description: "The windows",
      content: { "application/json": { schema: MetricsResponse } },
    },
    ...READ_ERRORS,
  },
});

export const readMetricsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { reads } = c.var.services;
  const body = await readMetrics(
    {
      reader: c.var.reads,
      nowMs: () => c.var.services.now().getTime(),
      allowedLatenessMs: reads.allowedLatenessMs,
      maxRows: reads.metricsMaxRows,
    },
    c.var.auth.tenant,
    c.req.query(),
  );
  return c.json(body, 200);
});
