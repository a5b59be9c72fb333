/** What the webhook routes share: roles, the endpoint's public shape, and the id parameter. */
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ALERT_TYPES } from "#core/monitoring";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { requireKey } from "../auth/require-key";
import { useWebhookStore } from "../webhooks/use-webhook-store";
import type { WebhookEndpoint } from "../webhooks/webhook-store";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";

export const WEBHOOKS_TAG = "webhooks";
export const WEBHOOKS_SECURITY = BEARER_SECURITY;
export const WEBHOOKS_ERRORS = errorResponses(400, ...AUTH_ERRORS);

/** Creating, deleting and testing endpoints changes where a tenant's data goes: admin only. */
export const WEBHOOKS_ADMIN: MiddlewareHandler<AppEnv>[] = [
  requireKey("admin"),
  useWebhookStore(),
  useAuditLog(),
];
/** Listing endpoints and reading deliveries: `read` (or `admin`). */
export const WEBHOOKS_READ: MiddlewareHandler<AppEnv>[] = [requireKey("read"), useWebhookStore()];

export const ALERT_TYPE_VALUES = Object.values(ALERT_TYPES) as [string, ...string[]];

export const WebhookEndpointSchema = z
  .object({
    id: z.string().openapi({ example: "3f1c2b7e-0d9a-4c51-8a57-3b1e2f4d6a90" }),
    url: z.string().openapi({ example: "https://hooks.example.com/driftline" }),
    types: z.array(z.string()).openapi({
      description: "Alert types the endpoint receives; empty means every alert type",
    }),
    createdAt: z.iso.datetime(),
  })
  .openapi("WebhookEndpoint");

export const WebhookIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, description: "The endpoint id" }),
});

/** The endpoint as GET answers it: never the secret, sealed or not. */
export function publicEndpoint(e: WebhookEndpoint): z.infer<typeof WebhookEndpointSchema> {
  return { id: e.id, url: e.url, types: e.types, createdAt: new Date(e.createdAtMs).toISOString() };
}
