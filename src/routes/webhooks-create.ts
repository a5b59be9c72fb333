/** `POST /v1/webhooks`: registers an endpoint for the tenant's alerts and answers its secret, once. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ConflictError, ValidationError } from "#core/errors";
import {
  checkWebhookUrl,
  generateWebhookSecret,
  sealWebhookSecret,
  WEBHOOK_URL_MAX_LENGTH,
} from "#core/webhooks";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../audit/record-admin-action";
import { ADMIN_JSON_MAX_BYTES, limitBody } from "../http/body-limit";
import { errorResponses } from "./error-responses";
import {
  ALERT_TYPE_VALUES,
  publicEndpoint,
  WEBHOOKS_ADMIN,
  WEBHOOKS_ERRORS,
  WEBHOOKS_SECURITY,
  WEBHOOKS_TAG,
  WebhookEndpointSchema,
} from "./webhooks-shared";

const CreateWebhookSchema = z
  .object({
    url: z
      .string()
      .min(1)
      .max(WEBHOOK_URL_MAX_LENGTH)
      .openapi({ example: "https://hooks.example.com/driftline" }),
    types: z
      .array(z.enum(ALERT_TYPE_VALUES))
      .max(ALERT_TYPE_VALUES.length)
      .optional()
      .openapi({ description: "Alert types to receive; omit or [] for every alert type" }),
  })
  .strict()
  .openapi("CreateWebhook");

const route = createRoute({
  method: "post",
  path: "/v1/webhooks",
  tags: [WEBHOOKS_TAG],
  summary: "Register a webhook endpoint",
  description:
    "The tenant's alerts (of `types`, default all) are POSTed to `url` as CloudEvents, signed per Standard Webhooks with the endpoint's own secret. The secret is in this answer only: store it. Outside local runs the URL must be https:// and a public host (no loopback, private, link-local, CGNAT or metadata addresses, no credentials). Needs the `admin` role.",
  security: WEBHOOKS_SECURITY,
  middleware: [
    ...WEBHOOKS_ADMIN,
    limitBody(() => ADMIN_JSON_MAX_BYTES, "a webhook registration"),
  ] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateWebhookSchema } } },
  },
  responses: {
    201: {
      description: "Registered; `secret` is shown only here",
      content: {
        "application/json": {
          schema: WebhookEndpointSchema.extend({
            secret: z.string().openapi({
              example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
              description: "Standard Webhooks signing secret; verify each delivery with it",
            }),
          }).openapi("CreatedWebhookEndpoint"),
        },
      },
    },
    ...errorResponses(409, 413, 415),
    ...WEBHOOKS_ERRORS,
  },
});

export const createWebhookRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const body = c.req.valid("json");
  const { webhooks } = c.var.services;
  const tenant = c.var.auth.tenant;
  const check = checkWebhookUrl(body.url, { allowLocal: webhooks.allowLocalUrls });
  if (!check.ok) {
    throw new ValidationError(`The webhook URL is refused: ${check.message}.`, [
      { field: "url", message: check.message },
    ]);
  }
  const id = crypto.randomUUID();
  const secret = generateWebhookSecret();
  const secretSealed = await sealWebhookSecret(await webhooks.encryptionKey(), secret, {
    tenant,
    endpointId: id,
  });
  const endpoint = {
    id,
    tenant,
    url: check.url,
    types: [...new Set(body.types ?? [])],
    createdAtMs: c.var.services.now().getTime(),
    secretSealed,
  };
  const result = await c.var.webhooks.createEndpoint(endpoint, webhooks.maxEndpointsPerTenant, () =>
    recordAdminAction(c, {
      action: "webhook.create",
      target: `webhook:${id}`,
      before: null,
      after: publicEndpoint(endpoint),
    }),
  );
  if (result.kind === "limit-reached") {
    throw new ConflictError(
      `This tenant already has ${result.limit} webhook endpoints, the most it may have; delete one first.`,
    );
  }
  c.header("Cache-Control", "no-store");
  return c.json({ ...publicEndpoint(result.endpoint), secret }, 201);
});
