/** CORS for browser-facing routes, with the allowed origins configured per tenant in Redis. */
import type { MiddlewareHandler } from "hono";
import { normalizeOrigin } from "#core/api-keys";
import { DriftlineError } from "#core/errors";
import type { AppEnv } from "../app-env";

const EXPOSED_HEADERS = ["X-Request-Id", "Retry-After", "RateLimit-Policy", "RateLimit"].join(", ");

/**
 * Answers CORS preflights (OPTIONS with Access-Control-Request-Method) for the paths it is
 * mounted on. A preflight carries no API key, so the tenant is unknown here: the preflight
 * allows any origin to *ask*, and `requireTenantOrigin` decides on the real request.
 */
export function corsPreflight(
  options: { methods?: readonly string[]; maxAgeSeconds?: number } = {},
): MiddlewareHandler<AppEnv> {
  const methods = (options.methods ?? ["POST"]).join(", ");
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (c.req.method !== "OPTIONS" || !origin || !c.req.header("access-control-request-method")) {
      return next();
    }
    return c.body(null, 204, {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Methods": methods,
      "Access-Control-Allow-Headers": "Authorization, Content-Type",
      "Access-Control-Max-Age": String(options.maxAgeSeconds ?? 600),
      Vary: "Origin",
    });
  };
}

/**
 * Mount after `requireKey`. A request without an Origin header (a server) passes; a browser
 * request passes only from one of the tenant's origins (`*` allows all) and then gets the
 * Access-Control-* response headers. Others get a 403 naming the origin to add.
 */
export function requireTenantOrigin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const sent = c.req.header("origin");
    if (!sent) return next();
    const { tenant } = c.var.auth;
    const origin = normalizeOrigin(sent);
    const allowed = await c.var.services.tenantOrigins.allowedOrigins(tenant);
    const ok =
      origin !== undefined && allowed.some((a) => a === "*" || normalizeOrigin(a) === origin);
    if (!ok) {
      throw new DriftlineError(
        "FORBIDDEN",
        `Origin ${sent} is not allowed for tenant ${tenant}. Add it to the tenant's allowed origins (npm run keys:create -- --tenant ${tenant} --origins ${origin ?? sent} …).`,
        { context: { tenant } },
      );
    }
    c.header("Access-Control-Allow-Origin", sent);
    c.header("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    c.header("Vary", "Origin", { append: true });
    await next();
  };
}
