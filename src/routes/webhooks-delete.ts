/** `DELETE /v1/webhooks/{id}`: the endpoint receives nothing more. */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../audit/record-admin-action";
import { errorResponses } from "./error-responses";
import {
  publicEndpoint,
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
  const tenant = c.var.auth.tenant;
  const notFound = () => new NotFoundError(`No webhook endpoint "${id}" for this tenant.`);
  const endpoint = await c.var.webhooks.getEndpoint(tenant, id);
  if (endpoint === undefined) throw notFound();
  await recordAdminAction(c, {
    action: "webhook.delete",
    target: `webhook:${id}`,
    before: publicEndpoint(endpoint),
    after: null,
  });
  // A concurrent delete may have won since the read: the entry stands for this attempt.
  if (!(await c.var.webhooks.disableEndpoint(tenant, id))) throw notFound();
  return c.body(null, 204);
});
