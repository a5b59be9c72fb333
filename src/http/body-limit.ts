/** A 413 for request bodies over a limit, before anything reads them. */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { DriftlineError } from "#core/errors";
import type { AppEnv } from "../app-env";

/** Largest body of an admin JSON request (promote): a pointer and a challenger share. */
export const ADMIN_JSON_MAX_BYTES = 64 * 1024;

/**
 * Hono's bodyLimit with Driftline's error: it checks Content-Length, and counts a chunked body
 * (no Content-Length) while it is read, so neither kind gets past the limit.
 *
 * @example
 * middleware: [requireKey("admin"), limitBody(() => ADMIN_JSON_MAX_BYTES, "a promotion")]
 */
export function limitBody(
  maxBytes: (c: Context<AppEnv>) => number,
  what: string,
  advice = "",
): MiddlewareHandler<AppEnv> {
  return function limitBodyMiddleware(c, next) {
    const maxSize = maxBytes(c);
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new DriftlineError(
          "PAYLOAD_TOO_LARGE",
          `The body is over ${maxSize} bytes, the most ${what} may carry${advice === "" ? "" : `; ${advice}`}.`,
          { context: { maxBodyBytes: maxSize } },
        );
      },
    })(c, next);
  };
}
