/** `GET /v1/webhooks`: the tenant's endpoints, never their secrets. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import {
  publicEndpoint,
  WEBHOOKS_ERRORS,
  WEBHOOKS_READ,
  WEBHOOKS_SECURITY,
  WEBHOOKS_TAG,
  WebhookEndpointSchema,
} from "./webhooks-shared";

const route = createRoute({
  method: "get",
  path: "/v1/webhooks",
  tags: [WEBHOOKS_TAG],
  summary: "List webhook endpoints",
  description:
    "The tenant's endpoints, oldest first (a tenant has at most WEBHOOK_MAX_ENDPOINTS_PER_TENANT, so one page holds them all). Secrets are never listed. Needs the `read` (or `admin`) role.",
  security: WEBHOOKS_SECURITY,
  middleware: WEBHOOKS_READ,
  responses: {
    200: {
      description: "The tenant's endpoints",
      content: {
        "application/json": {
          schema: z.object({ data: z.array(WebhookEndpointSchema) }).openapi("WebhookEndpointList"),
        },
      },
    },
    ...WEBHOOKS_ERRORS,
  },
});

export const listWebhooksRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const endpoints = await c.var.webhooks.listEndpoints(c.var.auth.tenant);
  return c.json({ data: endpoints.map(publicEndpoint) }, 200);
});
