/** Route middleware: presents Meta-style `access_token` credentials (query or body) to the Bearer-key auth. */
import type { MiddlewareHandler } from "hono";
import type { EventSource } from "#core/events";
import type { AppEnv } from "../app-env";
import { clientAddress, refuseFloodingClient } from "../auth/require-key";
import { readEventsBody } from "./read-events-body";

/**
 * Meta's Graph API takes `access_token` as a query or body parameter, and `navigator.sendBeacon`
 * cannot set an Authorization header, so the event routes accept the API key in those places
 * too. Mount before `requireKey`: when no Authorization header was sent, the token found here
 * becomes `Authorization: Bearer <token>` and `requireKey` checks it like any other key (role,
 * revocation, rate limit). The Authorization header wins when both are sent.
 *
 * The request is replaced with a copy carrying the header, as Hono's own bodyLimit does. A body
 * read here stays in Hono's body cache, so the handler reads it again without a second parse of
 * the stream.
 */
export function acceptAccessToken(source: EventSource): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.header("authorization") !== undefined) return next();
    let token = c.req.query("access_token");
    if (token === undefined && source === "capi") {
      // The key is in the body: a client that keeps sending invalid keys is refused before its
      // body is read, like before any key lookup (requireKey).
      refuseFloodingClient(c.var.services.authFailures, clientAddress(c));
      token = (await readEventsBody(c.req, source)).accessToken;
    }
    if (token !== undefined && token !== "") {
      const raw = c.req.raw;
      const headers = new Headers(raw.headers);
      headers.set("authorization", `Bearer ${token}`);
      c.req.raw = raw.bodyUsed
        ? new Request(raw.url, { method: raw.method, headers })
        : new Request(raw, { headers });
    }
    await next();
  };
}
