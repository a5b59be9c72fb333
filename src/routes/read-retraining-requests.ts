/** `GET /v1/retraining-requests`: retraining requests the tenant's monitoring policies opened. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { CursorParam, decodeCursor, LimitParam, pageOf } from "../read-api/read-params";
import { RETRAIN_STATUSES, type RetrainEntry } from "../read-api/read-store";
import {
  iso,
  OptionalIdentifier,
  pageSchema,
  READ_ERRORS,
  READ_MIDDLEWARE,
  READ_SECURITY,
  READ_TAG,
} from "./read-shared";

export const RetrainingRequestSchema = z
  .object({
    id: z.string(),
    model: z.string(),
    version: z.string(),
    status: z.enum(RETRAIN_STATUSES),
    policy: z.string().openapi({ example: "psi-above(0.2, consecutive=3)" }),
    evidence: z.record(z.string(), z.unknown()),
    requestedAt: z.iso.datetime(),
    reason: z.string().optional().openapi({
      description: "Why the request is in its status (the retraining worker's words)",
      example: "too few settled labels: 300 usable settled rows, at least 1000 needed",
    }),
    statusEvidence: z.record(z.string(), z.unknown()).optional().openapi({
      description:
        "The evidence of the last step: row counts and class balance, gate metrics, the online test's statistics",
    }),
  })
  .openapi("RetrainingRequest");

export function retrainingRequestBody(r: RetrainEntry) {
  return {
    id: r.id,
    model: r.model,
    version: r.version,
    status: r.status,
    policy: r.policy,
    evidence: r.evidence,
    requestedAt: iso(r.requestedAtMs),
    ...(r.reason === null ? {} : { reason: r.reason }),
    ...(r.statusEvidence === null ? {} : { statusEvidence: r.statusEvidence }),
  };
}

const route = createRoute({
  method: "get",
  path: "/v1/retraining-requests",
  tags: [READ_TAG],
  summary: "List retraining requests",
  description:
    "Oldest first, optionally by model and status; each with its policy and evidence (the history is on GET /v1/retraining-requests/{id}). Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    query: z.object({
      model: OptionalIdentifier("model", "Only requests for this model"),
      status: z
        .enum(RETRAIN_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of retraining requests",
      content: {
        "application/json": {
          schema: pageSchema(RetrainingRequestSchema, "RetrainingRequestPage"),
        },
      },
    },
    ...READ_ERRORS,
  },
});

export const readRetrainingRequestsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const query = c.req.valid("query");
  const after = decodeCursor(query.cursor);
  const entries = await c.var.reads.listRetrainRequests({
    tenant: c.var.auth.tenant,
    ...(query.model === undefined ? {} : { model: query.model }),
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(after === undefined ? {} : { after }),
    limit: query.limit,
  });
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map(retrainingRequestBody),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
