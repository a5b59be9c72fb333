/** Maps every failure to one HTTP error body: `{ error: { code, message, requestId, details? } }`. */
import type { Context } from "hono";
import { errorBody, isDriftlineError, STATUS_BY_CODE, ValidationError } from "#core/errors";
import { createLogger, type Logger } from "../observability/logger";

/** Used when the request failed before its services (and their logger) were set. */
const fallbackLog = createLogger("error");

/** Hono `onError`: known errors keep their code; anything else is logged and hidden behind a 500. */
export function handleError(err: Error, c: Context): Response {
  const requestId = c.get("requestId" as never) ?? "unknown";
  const services = c.get("services" as never) as { log?: Logger } | undefined;
  const log = services?.log ?? fallbackLog;
  if (isDriftlineError(err)) {
    const details =
      err instanceof ValidationError && err.issues.length > 0
        ? { issues: err.issues }
        : err.code === "RATE_LIMITED" && typeof err.context?.budget === "string"
          ? {
              budget: err.context.budget,
              limit: err.context.limit,
              windowSeconds: err.context.windowSeconds,
            }
          : undefined;
    if (err.code === "CONFIG" || err.code === "DEPENDENCY_UNAVAILABLE") {
      log.error(err.message, { requestId, code: err.code });
    }
    const headers: Record<string, string> = {};
    const retryAfter = err.context?.retryAfterSeconds;
    if (typeof retryAfter === "number") headers["Retry-After"] = String(Math.ceil(retryAfter));
    return c.json(
      errorBody(err.code, err.message, requestId, details),
      STATUS_BY_CODE[err.code],
      headers,
    );
  }
  log.error("unhandled error", { requestId, error: String(err.stack ?? err) });
  return c.json(
    errorBody("INTERNAL", "Internal error; quote the requestId when reporting it.", requestId),
    500,
  );
}
