/** `GET /v1/health-score`: the account's health (0–100) with its factors and recommendations, for the tenant and per source. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { computeHealthScore, type HealthScore } from "#core/anomaly";
import type { AppEnv } from "../app-env";
import type { HealthReadings } from "../read-api/read-store";
import { AnomalySchema, anomalyBody } from "./read-anomalies";
import { iso, READ_ERRORS, READ_MIDDLEWARE, READ_SECURITY, READ_TAG } from "./read-shared";

const HealthSchema = z.object({
  score: z.number().int().min(0).max(100),
  status: z.enum(["healthy", "degraded", "critical"]),
  factors: z.array(
    z.object({
      factor: z.string().openapi({ example: "match-quality" }),
      status: z.enum(["ok", "warning", "critical"]),
      penalty: z.number(),
      detail: z.string(),
    }),
  ),
  recommendations: z.array(z.string()).openapi({
    example: [
      "send `em`, `ph` and `external_id` (and `fbp`/`fbc` from the browser): match quality 4.1, ≥ 6 expected",
    ],
  }),
});

const HealthScoreSchema = HealthSchema.extend({
  evaluatedAt: z.iso.datetime(),
  sources: z.array(HealthSchema.extend({ source: z.string() })),
  pixels: z
    .array(HealthSchema.extend({ pixel: z.string(), events: z.number().int().min(0) }))
    .openapi({
      description:
        "Per Meta pixel (CAPI): its open anomalies and its match quality over the last 24 h, with `events` counted in that time",
    }),
  openAnomalies: z.array(AnomalySchema),
}).openapi("HealthScore");

const route = createRoute({
  method: "get",
  path: "/v1/health-score",
  tags: [READ_TAG],
  summary: "Account health score",
  description:
    "A 0–100 score for the tenant, for each event source (web, capi) and for each Meta pixel of the CAPI events, from open anomalies, match quality over the last 24 h against its target, and the latest drift and performance states, with plain recommendations. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  responses: {
    200: {
      description: "The health score",
      content: { "application/json": { schema: HealthScoreSchema } },
    },
    ...READ_ERRORS,
  },
});

/** The tenant's and each source's health from the readings. */
export function healthOf(readings: HealthReadings): {
  tenant: HealthScore;
  sources: (HealthScore & { source: string })[];
  pixels: (HealthScore & { pixel: string; events: number })[];
} {
  const toInput = (a: HealthReadings["openAnomalies"][number]) => ({
    metric: a.metric,
    dimensions: a.dimensions,
    reason: a.reason,
    score: a.score,
    expected: a.expected,
    observed: a.observed,
    detectedAtMs: a.detectedAtMs,
  });
  const quality = readings.matchQuality.reduce(
    (acc, q) => ({ sum: acc.sum + q.sum, count: acc.count + q.count }),
    { sum: 0, count: 0 },
  );
  const outcomes = readings.outcomes.reduce(
    (acc, o) => ({
      accepted: acc.accepted + o.accepted,
      duplicates: acc.duplicates + o.duplicates,
      rejected: acc.rejected + o.rejected,
    }),
    { accepted: 0, duplicates: 0, rejected: 0 },
  );
  const tenant = computeHealthScore({
    openAnomalies: readings.openAnomalies.map(toInput),
    ...(quality.count > 0
      ? { matchQuality: { mean: quality.sum / quality.count, events: quality.count } }
      : {}),
    ...sharesOf(outcomes),
    driftingColumns: readings.driftingColumns,
    degradedModels: readings.degradedModels,
    seriesOverflow: readings.seriesOverflow,
  });
  const names = [
    ...new Set([
      ...readings.matchQuality.map((q) => q.source),
      ...readings.outcomes.map((o) => o.source),
    ]),
  ].sort();
  const sources = names.map((source) => {
    const q = readings.matchQuality.find((m) => m.source === source);
    const o = readings.outcomes.find((m) => m.source === source);
    return {
      source,
      ...computeHealthScore({
        openAnomalies: readings.openAnomalies
          .filter((a) => a.dimensions.source === source)
          .map(toInput),
        ...(q !== undefined && q.count > 0
          ? { matchQuality: { mean: q.sum / q.count, events: q.count } }
          : {}),
        ...(o === undefined ? {} : sharesOf(o)),
      }),
    };
  });
  // A pixel is listed when it sent events in the last 24 h or has an open anomaly.
  const pixelNames = [
    ...new Set([
      ...readings.pixels.map((p) => p.pixel),
      ...readings.openAnomalies.flatMap((a) =>
        a.dimensions.pixel === undefined ? [] : [a.dimensions.pixel],
      ),
    ]),
  ].sort();
  const pixels = pixelNames.map((pixel) => {
    const p = readings.pixels.find((r) => r.pixel === pixel);
    return {
      pixel,
      events: p?.events ?? 0,
      ...computeHealthScore({
        openAnomalies: readings.openAnomalies
          .filter((a) => a.dimensions.pixel === pixel)
          .map(toInput),
        ...(p !== undefined && p.count > 0
          ? { matchQuality: { mean: p.sum / p.count, events: p.count } }
          : {}),
      }),
    };
  });
  return { tenant, sources, pixels };
}

/** Rejected and duplicate shares of the events the ingest answered for (none: not held against it). */
function sharesOf(o: { accepted: number; duplicates: number; rejected: number }): {
  rejectedShare?: number;
  duplicateShare?: number;
} {
  const total = o.accepted + o.duplicates + o.rejected;
  if (total <= 0) return {};
  return { rejectedShare: o.rejected / total, duplicateShare: o.duplicates / total };
}

export const readHealthScoreRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const nowMs = c.var.services.now().getTime();
  const readings = await c.var.reads.healthReadings(c.var.auth.tenant, nowMs);
  const { tenant, sources, pixels } = healthOf(readings);
  return c.json(
    {
      ...tenant,
      evaluatedAt: iso(nowMs),
      sources,
      pixels,
      openAnomalies: readings.openAnomalies.map(anomalyBody),
    },
    200,
  );
});
