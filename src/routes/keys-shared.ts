/** What the key admin routes share: the role, the key id parameter, the limit's shape and the key's public view. */
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import {
  type ApiKeyRecord,
  type DefaultRateLimits,
  keyRateLimit,
  MAX_KEY_REQUESTS,
  MAX_KEY_WINDOW_SECONDS,
} from "#core/api-keys";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { requireKey } from "../auth/require-key";
import { limitBody } from "../http/body-limit";
import { AUTH_ERRORS, errorResponses } from "./error-responses";

export const KEYS_TAG = "keys";
export const KEYS_ERRORS = errorResponses(400, 404, 409, ...AUTH_ERRORS);

/** Changing or rotating a tenant's keys: admin only; small JSON bodies; each change audited. */
export const KEYS_ADMIN: MiddlewareHandler<AppEnv>[] = [
  requireKey("admin"),
  limitBody(() => 16 * 1024, "a key admin request"),
  useAuditLog(),
];

export const KeyIdParam = z.object({
  keyId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "a key id such as key_0123456789abcdef")
    .openapi({
      param: { name: "keyId", in: "path" },
      description: "The key's id (`keys:list` shows it), never the secret",
      example: "key_0123456789abcdef",
    }),
});

export const RateLimitBody = z
  .object({
    requests: z
      .number()
      .int()
      .min(1)
      .max(MAX_KEY_REQUESTS)
      .openapi({
        description: `Requests per window (1 to ${MAX_KEY_REQUESTS.toLocaleString("en")})`,
        example: 6000,
      }),
    windowSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_KEY_WINDOW_SECONDS)
      .openapi({
        description: `Sliding window, seconds (1 to ${MAX_KEY_WINDOW_SECONDS})`,
        example: 60,
      }),
  })
  .openapi("KeyRateLimit");

export const KeySchema = z
  .object({
    keyId: z.string(),
    tenant: z.string(),
    roles: z.array(z.string()),
    rateLimit: RateLimitBody.nullable().openapi({
      description: "The key's own limit; null: the Worker's default for its roles",
    }),
    effectiveRateLimit: RateLimitBody.openapi({
      description: "The limit its requests count against now",
    }),
    expiresAt: z.iso.datetime().optional().openapi({
      description: "When the key stops working (the end of a rotation's grace period)",
    }),
  })
  .openapi("ApiKey");

/** A key as the admin routes answer it: never the secret nor its hash. */
export function publicKey(record: ApiKeyRecord, defaults: DefaultRateLimits) {
  return {
    keyId: record.keyId,
    tenant: record.tenant,
    roles: [...record.roles],
    rateLimit: record.rateLimit ?? null,
    effectiveRateLimit: keyRateLimit(record, defaults),
    ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }),
  };
}
