/** What the read routes share: their middleware, security, error statuses and path parameters. */
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "#core/scoring";
import type { AppEnv } from "../app-env";
import { requireKey } from "../auth/require-key";
import { useReadStore } from "../read-api/use-read-store";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";

/** The `read` role (or `admin`), then the request's own Postgres pool. */
export const READ_MIDDLEWARE: MiddlewareHandler<AppEnv>[] = [requireKey("read"), useReadStore()];
export const READ_SECURITY = BEARER_SECURITY;
export const READ_ERRORS = errorResponses(400, ...AUTH_ERRORS);
export const READ_TAG = "read";

export const ModelNameParam = z
  .string()
  .regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE)
  .openapi({ param: { name: "name", in: "path" }, example: "conversion" });

export const OptionalIdentifier = (name: string, description: string) =>
  z
    .string()
    .regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE)
    .optional()
    .openapi({ param: { name, in: "query" }, description });

/** A list answer: the page and, when there is more, the cursor of the next one. */
export const pageSchema = <T extends z.ZodType>(item: T, name: string) =>
  z
    .object({
      data: z.array(item),
      nextCursor: z
        .string()
        .optional()
        .openapi({ description: "Pass as `cursor` for the next page; absent on the last page" }),
    })
    .openapi(name);

export const iso = (ms: number) => new Date(ms).toISOString();
