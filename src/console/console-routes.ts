/**
 * The console at /dashboard: its page, its hashed assets, and sign-in / sign-out (a session
 * cookie in exchange for a `read` or `admin` API key). The page reads through the read API with
 * that cookie; requireKey accepts it.
 */
import { Hono } from "hono";
import { API_KEY_PATTERN, grantsRole, hashApiKey, timingSafeEqualText } from "#core/api-keys";
import { DriftlineError, ValidationError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { type ConsoleSession, CSRF_HEADER, readSessionCookie } from "../auth/console-sessions";
import { consolePage } from "./console-page";
import { consoleSecurityHeaders } from "./security-headers";

const SIGN_IN_MAX_BYTES = 4_096;

export const consoleRoutes = new Hono<AppEnv>();

consoleRoutes.use("/dashboard", consoleSecurityHeaders());
consoleRoutes.use("/dashboard/*", consoleSecurityHeaders());

/** The valid session of the request's cookie, if any. */
async function currentSession(c: {
  req: { url: string; header(name: string): string | undefined };
  var: AppEnv["Variables"];
}): Promise<ConsoleSession | undefined> {
  const cookie = readSessionCookie(c.req.header("cookie"));
  if (cookie === undefined) return undefined;
  return c.var.services.sessions.verify(new URL(c.req.url), cookie);
}

consoleRoutes.get("/dashboard", async (c) => {
  const session = await currentSession(c);
  const assets = await c.var.services.consoleAssets.load();
  c.header("Cache-Control", "no-store");
  return c.html(
    consolePage({
      view: session === undefined ? "sign-in" : "app",
      script: assets.script,
      stylesheet: assets.stylesheet,
      tenant: session?.tenant,
    }),
  );
});
consoleRoutes.get("/dashboard/", (c) => c.redirect("/dashboard", 308));

consoleRoutes.get("/dashboard/assets/:file", async (c) => {
  const asset = (await c.var.services.consoleAssets.load()).files.get(c.req.param("file"));
  if (asset === undefined) {
    throw new DriftlineError(
      "NOT_FOUND",
      `No console asset ${c.req.param("file")}; reload /dashboard for the current ones.`,
    );
  }
  // The name carries the content's hash: a file under a name never changes.
  c.header("Cache-Control", "public, max-age=31536000, immutable");
  c.header("Content-Type", asset.contentType);
  return c.body(asset.body);
});

/**
 * Sign-in takes JSON only: a cross-site form cannot send it without a CORS preflight, which
 * these routes never answer, so no other site can sign a browser into its own key.
 */
consoleRoutes.post("/dashboard/session", async (c) => {
  refuseCrossSite(c.req.header("origin"), c.req.header("sec-fetch-site"), c.req.url);
  if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    throw new DriftlineError(
      "UNSUPPORTED_MEDIA_TYPE",
      'Sign in with a JSON body { "key": "dl_…" } (Content-Type: application/json).',
    );
  }
  const text = await c.req.text();
  if (text.length > SIGN_IN_MAX_BYTES) {
    throw new DriftlineError("PAYLOAD_TOO_LARGE", "The sign-in body is too large.");
  }
  let key: unknown;
  try {
    key = (JSON.parse(text) as { key?: unknown }).key;
  } catch {
    key = undefined;
  }
  if (typeof key !== "string" || !API_KEY_PATTERN.test(key.trim())) {
    throw new ValidationError("Paste a Driftline API key (dl_…).", [
      { field: "key", message: "must be a Driftline API key (dl_…)" },
    ]);
  }
  const { apiKeys, sessions } = c.var.services;
  const keyHash = await hashApiKey(key.trim());
  const record = await apiKeys.findByHash(keyHash);
  if (!record || !timingSafeEqualText(record.keyHash, keyHash)) {
    throw new DriftlineError("UNAUTHENTICATED", "The API key is not valid (unknown or revoked).");
  }
  if (!grantsRole(record.roles, "read")) {
    throw new DriftlineError(
      "FORBIDDEN",
      `This key (${record.keyId}) has the role(s) ${record.roles.join(", ")}; the console needs "read" or "admin".`,
    );
  }
  const url = new URL(c.req.url);
  const { session, cookieValue } = await sessions.issue(url, record);
  c.header("Set-Cookie", sessions.cookie(url, cookieValue, Math.floor(sessions.ttlMs / 1000)));
  c.header("Cache-Control", "no-store");
  return c.json(await describeSession(c, session), 201);
});

/** Who is signed in, and the CSRF token the page sends on writes. */
consoleRoutes.get("/dashboard/session", async (c) => {
  const session = await currentSession(c);
  c.header("Cache-Control", "no-store");
  if (session === undefined) {
    throw new DriftlineError("UNAUTHENTICATED", "Not signed in; sign in at /dashboard.");
  }
  return c.json(await describeSession(c, session));
});

/** Sign-out: needs the CSRF token like any write, then clears the cookie. */
consoleRoutes.delete("/dashboard/session", async (c) => {
  const session = await currentSession(c);
  const { sessions } = c.var.services;
  const url = new URL(c.req.url);
  if (
    session !== undefined &&
    !(await sessions.checkCsrfToken(url, session, c.req.header(CSRF_HEADER)))
  ) {
    throw new DriftlineError("FORBIDDEN", `Signing out needs the session's ${CSRF_HEADER} header.`);
  }
  c.header("Set-Cookie", sessions.cookie(url, "", 0));
  c.header("Cache-Control", "no-store");
  return c.body(null, 204);
});

async function describeSession(
  c: { req: { url: string }; var: AppEnv["Variables"] },
  session: ConsoleSession,
) {
  return {
    tenant: session.tenant,
    keyId: session.keyId,
    roles: session.roles,
    expiresAt: new Date(session.expiresAtMs).toISOString(),
    csrfToken: await c.var.services.sessions.csrfToken(new URL(c.req.url), session),
  };
}

/** A browser says where a request comes from; another site's request is refused. */
function refuseCrossSite(origin: string | undefined, fetchSite: string | undefined, url: string) {
  const crossOrigin = origin !== undefined && origin !== new URL(url).origin;
  if (crossOrigin || fetchSite === "cross-site") {
    throw new DriftlineError("FORBIDDEN", "Sign in from the console's own page.");
  }
}
