/** What the destination routes share: roles, the destination's public shape, and the id parameter. */
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { requireKey } from "../auth/require-key";
import { useDestinationStore } from "../destinations/destination-services";
import type { StoredDestination } from "../destinations/destination-store";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";

export const DESTINATIONS_TAG = "destinations";
export const DESTINATIONS_SECURITY = BEARER_SECURITY;
export const DESTINATIONS_ERRORS = errorResponses(400, ...AUTH_ERRORS);

/** Adding or removing a destination changes where a tenant's data goes: admin only. */
export const DESTINATIONS_ADMIN: MiddlewareHandler<AppEnv>[] = [
  requireKey("admin"),
  useDestinationStore(),
  useAuditLog(),
];
/** Listing destinations and reading their statistics: `read` (or `admin`). */
export const DESTINATIONS_READ: MiddlewareHandler<AppEnv>[] = [
  requireKey("read"),
  useDestinationStore(),
];

export const DestinationSchema = z
  .object({
    id: z.string().openapi({ example: "3f1c2b7e-0d9a-4c51-8a57-3b1e2f4d6a90" }),
    kind: z.enum(["meta"]).openapi({ description: "meta: Meta's Conversions API" }),
    name: z.string().nullable(),
    pixelId: z.string().openapi({ example: "1234567890123456" }),
    testEventCode: z.string().nullable().openapi({ example: "TEST12345" }),
    tokenHint: z
      .string()
      .openapi({ description: "The access token's last four characters", example: "ZD9a" }),
    createdAt: z.iso.datetime(),
  })
  .openapi("Destination");

export const DestinationIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, description: "The destination id" }),
});

/** The destination as the API answers it: never its token, sealed or not. */
export function publicDestination(d: StoredDestination): z.infer<typeof DestinationSchema> {
  return {
    id: d.id,
    kind: d.kind,
    name: d.name,
    pixelId: d.settings.pixelId,
    testEventCode: d.settings.testEventCode ?? null,
    tokenHint: d.tokenHint,
    createdAt: new Date(d.createdAtMs).toISOString(),
  };
}
