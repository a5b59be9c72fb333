/** Glue shared by the two event routes: body size limit, the service verb's deps, the browser's request context. */
import type { Context } from "hono";
import type { EventSource, KeyKind, RequestContext } from "#core/events";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";
import { limitBody } from "../http/body-limit";
import type { IngestDeps } from "./ingest-events";

/** 413 before anything reads a body over `Services.ingest.maxBodyBytes`. */
export const ingestBodyLimit = limitBody(
  (c) => c.var.services.ingest.maxBodyBytes,
  "an event request",
  "send fewer events per request",
);

export function ingestDeps(c: Context<AppEnv>): IngestDeps {
  const services = c.var.services;
  return {
    dedup: services.ingest.dedup,
    sink: services.ingest.sink,
    now: () => services.now(),
    newEventId: () => crypto.randomUUID(),
    log: (entry) => services.log.entry({ requestId: c.var.requestId, ...entry }),
    ...(services.ingest.urlQueryAllowlist === undefined
      ? {}
      : { prepareOptions: { urlQueryAllowlist: services.ingest.urlQueryAllowlist } }),
  };
}

/** The browser's address and user agent, for website events that leave them out. */
export function browserRequestContext(c: Context<AppEnv>): RequestContext {
  const context: RequestContext = {};
  // Set by Cloudflare's edge to the connecting client's address; not forgeable by the client.
  const ip = c.req.header("cf-connecting-ip");
  const userAgent = c.req.header("user-agent");
  if (ip) context.clientIpAddress = ip;
  if (userAgent) context.userAgent = userAgent;
  return context;
}

/**
 * The dedup namespace of a request's events: `browser` for a publishable key, and for any request
 * a page sent (browsers always send Origin on a cross-origin POST), whatever its key: a server key
 * that ended up in a page is treated like one made for it. Only a server key used without an
 * Origin header claims ids among server events.
 */
export function ingestKeyKind(c: Context<AppEnv>): KeyKind {
  return c.var.auth.keyKind === "browser" || c.req.header("origin") !== undefined
    ? "browser"
    : "server";
}

/**
 * Counts the request's rejected events for the console (after the response: a failure to count
 * never fails the request, and is logged).
 */
export function recordRejections(c: Context<AppEnv>, source: EventSource, rejected: number): void {
  if (rejected <= 0) return;
  const { services } = c.var;
  waitUntil(
    c,
    services.ingest.rejections
      .record(c.var.auth.tenant, source, services.now().getTime(), rejected)
      .catch((error: unknown) =>
        services.log.warn("could not count rejected events", {
          requestId: c.var.requestId,
          error: error instanceof Error ? error.message : String(error),
        }),
      ),
  );
}
