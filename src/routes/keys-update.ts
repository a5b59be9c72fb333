/** `PATCH /v1/keys/{keyId}`: sets or removes a key's own request limit. */

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../audit/record-admin-action";
import { BEARER_SECURITY } from "./error-responses";
import {
  KEYS_ADMIN,
  KEYS_ERRORS,
  KEYS_TAG,
  KeyIdParam,
  KeySchema,
  publicKey,
  RateLimitBody,
} from "./keys-shared";

const UpdateKeyBody = z
  .object({
    rateLimit: RateLimitBody.nullable().openapi({
      description: "The key's own request limit; null goes back to the default for its roles",
    }),
  })
  .strict()
  .openapi("UpdateKeyRequest");

const route = createRoute({
  method: "patch",
  path: "/v1/keys/{keyId}",
  tags: [KEYS_TAG],
  summary: "Set a key's request limit",
  description:
    "Sets the key's own limit (`requests` per sliding window of `windowSeconds`), or with `null` returns it to the Worker's default for its roles (RATE_LIMIT_REQUESTS, or RATE_LIMIT_INGEST_REQUESTS for keys with the `ingest` role). Takes effect in every isolate within API_KEY_CACHE_TTL_MS. Only the caller's tenant's keys. Needs the `admin` role.",
  security: BEARER_SECURITY,
  middleware: KEYS_ADMIN,
  request: {
    params: KeyIdParam,
    body: { required: true, content: { "application/json": { schema: UpdateKeyBody } } },
  },
  responses: {
    200: {
      description: "The key with its limit",
      content: { "application/json": { schema: KeySchema } },
    },
    ...KEYS_ERRORS,
  },
});

export const updateKeyRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { keyId } = c.req.valid("param");
  const { rateLimit } = c.req.valid("json");
  const { keyAdmin, requestLimits } = c.var.services;
  const record = await keyAdmin.setRateLimit(c.var.auth.tenant, keyId, rateLimit, (before, after) =>
    recordAdminAction(c, {
      action: "api-key.update",
      target: `api-key:${keyId}`,
      before: publicKey(before, requestLimits),
      after: publicKey(after, requestLimits),
    }),
  );
  if (record === undefined) {
    throw new NotFoundError(
      `No live key "${keyId}" for this tenant (npm run keys:list shows them).`,
    );
  }
  return c.json(publicKey(record, requestLimits), 200);
});
