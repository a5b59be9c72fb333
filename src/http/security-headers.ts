/** Security headers for pages the Worker serves to browsers: a page's CSP plus the fixed rest. */
import type { MiddlewareHandler } from "hono";

/**
 * Sets `contentSecurityPolicy` and, whatever the page: no MIME sniffing, no referrer, no framing
 * (the legacy header too, for browsers without `frame-ancestors`), and a browsing context of its
 * own so an opener on another site cannot reach the page's window.
 *
 * @example app.use("/docs", securityHeaders({ contentSecurityPolicy: DOCS_CSP }))
 */
export function securityHeaders(options: { contentSecurityPolicy: string }): MiddlewareHandler {
  return async function securityHeaders(c, next) {
    await next();
    c.header("Content-Security-Policy", options.contentSecurityPolicy);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    c.header("Cross-Origin-Opener-Policy", "same-origin");
  };
}
