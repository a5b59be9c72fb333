/** Authentication by console session cookie: the session's key hash, with CSRF checked on writes. */
import type { Context } from "hono";
import { DriftlineError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { CSRF_HEADER, readSessionCookie } from "./console-sessions";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The API key hash a console session stands for, when the request carries no Authorization
 * header and a session cookie. A state-changing request must also carry the session's CSRF token
 * in X-CSRF-Token (403 otherwise): SameSite=Strict already keeps other sites' requests from
 * sending the cookie, and the token keeps that so if a browser or a sibling subdomain does not.
 * A cookie that is forged or expired is a 401 asking to sign in again.
 */
export async function sessionKeyHash(c: Context<AppEnv>): Promise<string | undefined> {
  if (c.req.header("authorization") !== undefined) return undefined;
  const cookie = readSessionCookie(c.req.header("cookie"));
  if (cookie === undefined) return undefined;
  const { sessions } = c.var.services;
  const url = new URL(c.req.url);
  const session = await sessions.verify(url, cookie);
  if (session === undefined) {
    throw new DriftlineError(
      "UNAUTHENTICATED",
      "The console session has expired or is not valid; sign in again at /dashboard.",
    );
  }
  if (
    !SAFE_METHODS.has(c.req.method) &&
    !(await sessions.checkCsrfToken(url, session, c.req.header(CSRF_HEADER)))
  ) {
    throw new DriftlineError(
      "FORBIDDEN",
      `${c.req.method} ${c.req.path} with a console session needs the session's ${CSRF_HEADER} header (from GET /dashboard/session).`,
    );
  }
  return session.keyHash;
}
