/** `GET /v1/retraining-requests/{id}`: one retraining request with its status history. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { errorResponses } from "./error-responses";
import { RetrainingRequestSchema, retrainingRequestBody } from "./read-retraining-requests";
import { iso, READ_ERRORS, READ_MIDDLEWARE, READ_SECURITY, READ_TAG } from "./read-shared";

const Detail = z
  .object({
    ...RetrainingRequestSchema.shape,
    history: z.array(
      z.object({
        status: z.string().openapi({ description: "`requested`, then each status it moved to" }),
        at: z.iso.datetime(),
        reason: z.string().optional(),
      }),
    ),
  })
  .openapi("RetrainingRequestDetail");

const route = createRoute({
  method: "get",
  path: "/v1/retraining-requests/{id}",
  tags: [READ_TAG],
  summary: "A retraining request and its history",
  description: "Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(128)
        .openapi({ param: { name: "id", in: "path" } }),
    }),
  },
  responses: {
    200: { description: "The request", content: { "application/json": { schema: Detail } } },
    ...errorResponses(404),
    ...READ_ERRORS,
  },
});

export const readRetrainingRequestRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const request = await c.var.reads.getRetrainRequest(c.var.auth.tenant, id);
  if (request === undefined)
    throw new NotFoundError(`No retraining request "${id}" for this tenant.`);
  return c.json(
    {
      ...retrainingRequestBody(request),
      history: request.history.map((h) => ({
        status: h.status,
        at: iso(h.atMs),
        ...(h.reason === null ? {} : { reason: h.reason }),
      })),
    },
    200,
  );
});
