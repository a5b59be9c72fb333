/** OpenAPI descriptions of the error body, shared by the routes' contracts. */
import { z } from "@hono/zod-openapi";
import { ERROR_CODES } from "#core/errors";

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string().openapi({ description: "What went wrong and what to do about it" }),
      requestId: z.string(),
      details: z
        .object({
          issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
        })
        .passthrough()
        .optional(),
    }),
  })
  .openapi("Error");

const DESCRIPTIONS = {
  400: "Invalid request; `details.issues` names each field and why",
  401: "Missing or invalid API key (send `Authorization: Bearer <key>`)",
  403: "The key lacks the role this route needs",
  404: "Not found for this tenant",
  409: "Conflicts with existing state",
  413: "Too large",
  415: "Unsupported Content-Type",
  422: "Well-formed but cannot be done as asked; the message says why",
  429: "Rate limit reached; see Retry-After and the RateLimit and RateLimit-Policy headers",
  503: "A dependency (Upstash Redis, R2) is unavailable; retry",
} as const;

export type ErrorStatus = keyof typeof DESCRIPTIONS;

/** `responses` entries for the given statuses, all with the standard error body. */
export function errorResponses<const S extends ErrorStatus>(...statuses: S[]) {
  const out = {} as Record<
    S,
    { description: string; content: { "application/json": { schema: typeof ErrorBodySchema } } }
  >;
  for (const s of statuses) {
    out[s] = {
      description: DESCRIPTIONS[s],
      content: { "application/json": { schema: ErrorBodySchema } },
    };
  }
  return out;
}

/** Statuses every authenticated route can answer with. */
export const AUTH_ERRORS = [401, 403, 429, 503] as const;

export const BEARER_SECURITY = [{ bearerAuth: [] }];
