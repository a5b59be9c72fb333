/** `POST /v1/alerts/{id}/acknowledge`: marks an open alert as seen by a person (idempotent). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ConflictError, NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { errorResponses } from "./error-responses";
import { iso, READ_ERRORS, READ_MIDDLEWARE, READ_SECURITY, READ_TAG } from "./read-shared";

const route = createRoute({
  method: "post",
  path: "/v1/alerts/{id}/acknowledge",
  tags: [READ_TAG],
  summary: "Acknowledge an alert",
  description:
    "An open alert becomes acknowledged; acknowledging it again answers the first acknowledgement. A resolved alert cannot be acknowledged (409). Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(128)
        .openapi({ param: { name: "id", in: "path" }, description: "The alert (CloudEvent) id" }),
    }),
  },
  responses: {
    200: {
      description: "Acknowledged",
      content: {
        "application/json": {
          schema: z
            .object({
              id: z.string(),
              status: z.literal("acknowledged"),
              acknowledgedAt: z.iso.datetime(),
            })
            .openapi("AlertAcknowledgement"),
        },
      },
    },
    ...errorResponses(404, 409),
    ...READ_ERRORS,
  },
});

export const acknowledgeAlertRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const result = await c.var.reads.acknowledgeAlert(c.var.auth.tenant, id);
  if (result.kind === "not-found") throw new NotFoundError(`No alert "${id}" for this tenant.`);
  if (result.kind === "resolved") {
    throw new ConflictError(
      `Alert "${id}" is already resolved; only open alerts are acknowledged.`,
    );
  }
  return c.json(
    {
      id: result.id,
      status: "acknowledged" as const,
      acknowledgedAt: iso(result.acknowledgedAtMs),
    },
    200,
  );
});
