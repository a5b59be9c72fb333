/** `POST /v1/keys/{keyId}/rotate`: a new secret for the key; the old one works for a grace period, then is refused. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { DEFAULT_ROTATION_GRACE_SECONDS, MAX_ROTATION_GRACE_SECONDS } from "#core/api-keys";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../audit/record-admin-action";
import { BEARER_SECURITY } from "./error-responses";
import { KEYS_ADMIN, KEYS_ERRORS, KEYS_TAG, KeyIdParam, KeySchema, publicKey } from "./keys-shared";

const RotateKeyBody = z
  .object({
    gracePeriodSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_GRACE_SECONDS)
      .default(DEFAULT_ROTATION_GRACE_SECONDS)
      .openapi({
        description: `How long the old key keeps working, seconds (0 to ${MAX_ROTATION_GRACE_SECONDS}; default ${DEFAULT_ROTATION_GRACE_SECONDS}, a day). 0 refuses it at once.`,
        example: 3600,
      }),
  })
  .strict()
  .openapi("RotateKeyRequest");

const RotatedKeySchema = KeySchema.extend({
  key: z.string().openapi({ description: "The new secret; shown only here", example: "dl_…" }),
  rotatedFrom: z.string().openapi({ description: "The old key's id" }),
  previousKeyExpiresAt: z.iso.datetime().openapi({
    description: "When the old key stops working",
  }),
}).openapi("RotatedApiKey");

const route = createRoute({
  method: "post",
  path: "/v1/keys/{keyId}/rotate",
  tags: [KEYS_TAG],
  summary: "Rotate a key",
  description:
    "Issues a new key with the same tenant, roles, origins and limit (shown once, in this answer) and sets the old key to expire after `gracePeriodSeconds`; after that it is refused (401) everywhere. A key already rotated, revoked or expired answers 409. Only the caller's tenant's keys. Needs the `admin` role.",
  security: BEARER_SECURITY,
  middleware: KEYS_ADMIN,
  request: {
    params: KeyIdParam,
    body: { required: false, content: { "application/json": { schema: RotateKeyBody } } },
  },
  responses: {
    201: {
      description: "The new key, and when the old one stops working",
      content: { "application/json": { schema: RotatedKeySchema } },
    },
    ...KEYS_ERRORS,
  },
});

export const rotateKeyRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { keyId } = c.req.valid("param");
  const { gracePeriodSeconds } = c.req.valid("json") ?? {};
  const { keyAdmin, requestLimits, now } = c.var.services;
  const rotated = await keyAdmin.rotate(c.var.auth.tenant, keyId, {
    graceSeconds: gracePeriodSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS,
    now: now(),
    beforeChange: (before, after) =>
      recordAdminAction(c, {
        action: "api-key.rotate",
        target: `api-key:${keyId}`,
        before: publicKey(before, requestLimits),
        after: publicKey(after, requestLimits),
      }),
  });
  if (rotated === undefined) {
    throw new NotFoundError(`No key "${keyId}" for this tenant (npm run keys:list shows them).`);
  }
  c.header("Cache-Control", "no-store");
  return c.json(
    {
      ...publicKey(rotated.record, requestLimits),
      key: rotated.key,
      rotatedFrom: rotated.retiring.keyId,
      previousKeyExpiresAt: rotated.retiring.expiresAt ?? now().toISOString(),
    },
    201,
  );
});
