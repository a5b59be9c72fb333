/** `DELETE /v1/webhooks/{id}`: the endpoint receives nothing more. */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { errorResponses } from "./error-responses";
import {
  WEBHOOKS_ADMIN,
  WEBHOOKS_ERRORS,
  WEBHOOKS_SECURITY,
  WEBHOOKS_TAG,
  WebhookIdParam,
} from "./webhooks-shared";

const route = createRoute({
  method: "delete",
  path: "/v1/webhooks/{id}",
  tags: [WEBHOOKS_TAG],
  summary: "Delete a webhook endpoint",
  description: "Deliveries to it stop, including retries already queued. Needs the `admin` role.",
  security: WEBHOOKS_SECURITY,
  middleware: WEBHOOKS_ADMIN,
  request: { params: WebhookIdParam },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses(404),
    ...WEBHOOKS_ERRORS,
  },
});

export const deleteWebhookRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  if (!(await c.var.webhooks.disableEndpoint(c.var.auth.tenant, id))) {
    throw new NotFoundError(`No webhook endpoint "${id}" for this tenant.`);
  }
  return c.body(null, 204);
});
