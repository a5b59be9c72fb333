/** `GET /v1/metrics/rejected`: events the Worker rejected, per minute and source (they never reach the stream, so the processor's metrics cannot hold them). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ValidationError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { requireKey } from "../auth/require-key";
import { REJECTION_READ_MAX_MS } from "../ingest/upstash-rejection-log";
import { FromParam, readRange, ToParam } from "../read-api/read-params";
import { iso, READ_ERRORS, READ_SECURITY, READ_TAG } from "./read-shared";

const RejectedSchema = z
  .object({
    data: z.array(
      z.object({
        windowStart: z.iso.datetime(),
        source: z.enum(["web", "capi"]),
        rejected: z.number().int(),
      }),
    ),
    total: z.number().int(),
  })
  .openapi("RejectedEvents");

const route = createRoute({
  method: "get",
  path: "/v1/metrics/rejected",
  tags: [READ_TAG],
  summary: "Rejected events per minute",
  description:
    "How many events `POST /v1/events` and `POST /v1/capi/{pixelId}/events` answered as rejected, per minute of receipt and source (minutes without any are left out); kept two days, at most 24 h per read. Each answer's `results` say why an event was rejected. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: [requireKey("read")],
  request: { query: z.object({ from: FromParam, to: ToParam }) },
  responses: {
    200: { description: "The counts", content: { "application/json": { schema: RejectedSchema } } },
    ...READ_ERRORS,
  },
});

export const readRejectionsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const query = c.req.valid("query");
  const nowMs = c.var.services.now().getTime();
  const range = readRange({ from: query.from ?? String(nowMs - 3_600_000), to: query.to }, nowMs);
  if (range.toMs - range.fromMs > REJECTION_READ_MAX_MS) {
    throw new ValidationError("The range is over 24 h; ask for at most 24 h of rejected events.", [
      { field: "from", message: "at most 24 h before `to`" },
    ]);
  }
  const counts = await c.var.services.ingest.rejections.read(
    c.var.auth.tenant,
    range.fromMs,
    range.toMs,
  );
  c.header("Cache-Control", "no-store");
  return c.json(
    {
      data: counts.map((r) => ({
        windowStart: iso(r.minuteMs),
        source: r.source,
        rejected: r.rejected,
      })),
      total: counts.reduce((s, r) => s + r.rejected, 0),
    },
    200,
  );
});
