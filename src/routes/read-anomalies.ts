/** `GET /v1/anomalies`: the tenant's KPI anomalies (volume drops, spikes, level shifts) with their evidence. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import {
  CursorParam,
  decodeCursor,
  FromParam,
  LimitParam,
  MAX_RANGE_MS,
  pageOf,
  readRange,
  ToParam,
} from "../read-api/read-params";
import { ANOMALY_STATUSES, type AnomalyEntry } from "../read-api/read-store";
import {
  iso,
  pageSchema,
  READ_ERRORS,
  READ_MIDDLEWARE,
  READ_SECURITY,
  READ_TAG,
} from "./read-shared";

const METRICS = [
  "events",
  "conversions",
  "value",
  "match-quality",
  "predictions",
  "mean-score",
  "rejected-share",
  "duplicate-share",
  "pixel-events",
  "pixel-match-quality",
] as const;

export const AnomalySchema = z
  .object({
    id: z.string().openapi({ example: "an-mk3x2c0-1f2e3d4c5b6a7980" }),
    status: z.enum(ANOMALY_STATUSES),
    series: z.object({
      metric: z.string().openapi({ example: "events" }),
      dimensions: z
        .record(z.string(), z.string())
        .openapi({ example: { source: "capi", eventName: "Purchase", campaign: "" } }),
    }),
    reason: z
      .string()
      .openapi({ description: "spike, dip, level-shift-up, level-shift-down or drop-to-zero" }),
    detectedAt: z.iso
      .datetime()
      .openapi({ description: "Start of the minute window that opened it" }),
    resolvedAt: z.iso.datetime().optional(),
    observed: z.number(),
    expected: z.number(),
    expectedRange: z.object({ lower: z.number(), upper: z.number() }),
    score: z.number().openapi({ description: "0..1 at detection; 0.5 is the threshold" }),
    peakScore: z.number(),
  })
  .openapi("Anomaly");

const route = createRoute({
  method: "get",
  path: "/v1/anomalies",
  tags: [READ_TAG],
  summary: "List anomalies",
  description:
    "Anomalies detected in [from, to) (default the last 31 days, at most 31), oldest first, optionally only open or resolved ones and of one metric. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    query: z.object({
      status: z
        .enum(ANOMALY_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
      metric: z
        .enum(METRICS)
        .optional()
        .openapi({ param: { name: "metric", in: "query" } }),
      from: FromParam,
      to: ToParam,
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of anomalies",
      content: { "application/json": { schema: pageSchema(AnomalySchema, "AnomalyPage") } },
    },
    ...READ_ERRORS,
  },
});

/** The answer's shape of a stored anomaly. */
export function anomalyBody(a: AnomalyEntry): z.infer<typeof AnomalySchema> {
  return {
    id: a.id,
    status: a.resolvedAtMs === null ? "open" : "resolved",
    series: { metric: a.metric, dimensions: a.dimensions },
    reason: a.reason,
    detectedAt: iso(a.detectedAtMs),
    ...(a.resolvedAtMs === null ? {} : { resolvedAt: iso(a.resolvedAtMs) }),
    observed: a.observed,
    expected: a.expected,
    expectedRange: { lower: a.lower, upper: a.upper },
    score: a.score,
    peakScore: a.peakScore,
  };
}

export const readAnomaliesRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const query = c.req.valid("query");
  const nowMs = c.var.services.now().getTime();
  // Open anomalies can be old: without `from`, the whole allowed range is searched.
  const toMs = readRange({ to: query.to }, nowMs).toMs;
  const range = readRange(
    { to: String(toMs), from: query.from ?? String(toMs - MAX_RANGE_MS) },
    nowMs,
  );
  const after = decodeCursor(query.cursor);
  const entries = await c.var.reads.listAnomalies({
    tenant: c.var.auth.tenant,
    ...range,
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.metric === undefined ? {} : { metric: query.metric }),
    ...(after === undefined ? {} : { after }),
    limit: query.limit,
  });
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map(anomalyBody),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
