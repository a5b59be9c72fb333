/** Headers every console response carries: a strict CSP, no sniffing, no referrer, no framing. */
import type { MiddlewareHandler } from "hono";
import { securityHeaders } from "../http/security-headers";

/**
 * Only this origin's scripts, styles, images and fetches; no inline script or style element, no
 * plugins, no framing (clickjacking on the promote button), forms post only here.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export function consoleSecurityHeaders(): MiddlewareHandler {
  return securityHeaders({ contentSecurityPolicy: CONSOLE_CSP });
}
