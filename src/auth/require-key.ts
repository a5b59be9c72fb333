/**
 * Route middleware: a Bearer API key (or a console session standing for one) of the right role,
 * within its rate limit; sets `auth`.
 */
import type { MiddlewareHandler } from "hono";
import {
  API_KEY_PATTERN,
  grantsRole,
  hashApiKey,
  keyKindOf,
  keyRateLimit,
  type Role,
  rateLimitHeaderValues,
  timingSafeEqualText,
} from "#core/api-keys";
import { DriftlineError } from "#core/errors";
import type { AppEnv } from "../app-env";
import type { AuthFailureLimiter, RateLimitDecision } from "./auth-ports";
import { sessionKeyHash } from "./session-auth";

const HOW_TO =
  "Send `Authorization: Bearer <api key>` with a Driftline key (dl_…); create one with `npm run keys:create -- --tenant <id> --roles score`.";

function unauthenticated(message: string): DriftlineError {
  return new DriftlineError("UNAUTHENTICATED", message);
}

/** The key from `Authorization: Bearer <key>`, or a 401 saying what to send. */
export function readBearerKey(header: string | undefined): string {
  if (!header) throw unauthenticated(`Missing API key. ${HOW_TO}`);
  // `Authorization: Bearer $KEY` with $KEY unset in the shell arrives as a bare "Bearer".
  if (/^\s*Bearer\s*$/i.test(header)) {
    throw unauthenticated(
      `The Authorization header is empty: it says \`Bearer\` with no key after it (is the shell variable holding the key set?). ${HOW_TO}`,
    );
  }
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthenticated(`The Authorization header is not a Bearer token. ${HOW_TO}`);
  const key = match[1]!;
  if (!API_KEY_PATTERN.test(key)) {
    throw unauthenticated(`The Bearer token is not a Driftline API key. ${HOW_TO}`);
  }
  return key;
}

/**
 * Authenticates the request, checks `role`, counts it against the key's request limit (its own,
 * else the default for its roles) and sets `c.var.auth`. Every authenticated response carries
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers); a refused one also
 * carries Retry-After. Runs before body validation, so an anonymous caller learns nothing about
 * schemas.
 */
export function requireKey(role: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.header("WWW-Authenticate", 'Bearer realm="driftline"');
    const { apiKeys, rateLimiter, authFailures } = c.var.services;
    const client = clientAddress(c);
    refuseFloodingClient(authFailures, client);
    // A console session stands for the key it was opened with: same roles, same revocation.
    let keyHash = await sessionKeyHash(c);
    if (keyHash === undefined) {
      let key: string;
      try {
        key = readBearerKey(c.req.header("authorization"));
      } catch (err) {
        authFailures.recordFailure(client);
        throw err;
      }
      keyHash = await hashApiKey(key);
    }
    const record = await apiKeys.findByHash(keyHash);
    // The store is addressed by the hash, so the lookup itself compares nothing secret; the
    // record's own hash is still re-checked in constant time before it is trusted.
    if (!record || !timingSafeEqualText(record.keyHash, keyHash)) {
      authFailures.recordFailure(client);
      throw unauthenticated(`The API key is not valid (unknown or revoked). ${HOW_TO}`);
    }
    c.header("WWW-Authenticate", undefined);
    const keyKind = keyKindOf(record);
    // A publishable key sits in web pages for anyone to copy: it only ever sends events, whatever
    // roles its record holds (keys:create refuses other roles for it).
    if (keyKind === "browser" && role !== "ingest") {
      throw new DriftlineError(
        "FORBIDDEN",
        `This key (${record.keyId}) is publishable (created with origins, for web pages) and may only send events; ${c.req.method} ${c.req.path} needs a server key with the "${role}" role.`,
        { context: { keyId: record.keyId, role } },
      );
    }
    if (!grantsRole(record.roles, role)) {
      throw new DriftlineError(
        "FORBIDDEN",
        `This key (${record.keyId}) has the role(s) ${record.roles.join(", ")}; ${c.req.method} ${c.req.path} needs the "${role}" role.`,
        { context: { keyId: record.keyId, role } },
      );
    }

    const own = keyRateLimit(record, c.var.services.requestLimits);
    const decision = await rateLimiter.limit(record.keyId, (p) => waitUntil(c, p), 1, {
      limit: own.requests,
      windowSeconds: own.windowSeconds,
    });
    const headers = rateLimitHeaderValues({
      policy: "requests",
      limit: decision.limit,
      windowSeconds: decision.windowSeconds,
      remaining: decision.remaining,
      resetSeconds: Math.ceil((decision.resetAtMs - Date.now()) / 1000),
    });
    c.header("RateLimit-Policy", headers.policy);
    c.header("RateLimit", headers.rateLimit);
    if (!decision.allowed) throw budgetExceeded("requests", record.keyId, decision);
    c.set("auth", {
      tenant: record.tenant,
      keyId: record.keyId,
      roles: record.roles,
      keyKind,
    });
    await next();
  };
}

/** The connecting client's address (set by Cloudflare's edge; not forgeable by the client). */
export function clientAddress(c: { req: { header(name: string): string | undefined } }): string {
  return c.req.header("cf-connecting-ip") ?? "unknown";
}

/** 429 before any key lookup (or body read) for a client that sent too many invalid keys. */
export function refuseFloodingClient(limiter: AuthFailureLimiter, client: string): void {
  const retryAfterSeconds = limiter.retryAfterSeconds(client);
  if (retryAfterSeconds === undefined) return;
  throw new DriftlineError(
    "RATE_LIMITED",
    `Too many requests with a missing or invalid API key from this address; retry after ${retryAfterSeconds} s with a valid key.`,
    { retryable: true, context: { retryAfterSeconds, budget: "failed-authentications" } },
  );
}

/** The 429 for a used-up budget: which one, its limit, and when to retry (Retry-After). */
export function budgetExceeded(
  budget: "requests" | "events" | "bytes",
  keyId: string,
  decision: RateLimitDecision,
): DriftlineError {
  const retryAfterSeconds = Math.max(1, Math.ceil((decision.resetAtMs - Date.now()) / 1000));
  return new DriftlineError(
    "RATE_LIMITED",
    `Rate limit of ${decision.limit} ${budget} per ${decision.windowSeconds} s reached for key ${keyId}; retry after ${retryAfterSeconds} s.`,
    {
      retryable: true,
      context: {
        retryAfterSeconds,
        budget,
        limit: decision.limit,
        windowSeconds: decision.windowSeconds,
      },
    },
  );
}

/** `ctx.waitUntil` when the runtime gives one (workerd), else the promise just runs. */
export function waitUntil(c: { readonly executionCtx: unknown }, promise: Promise<unknown>): void {
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx as { waitUntil(p: Promise<unknown>): void };
  } catch {
    // Hono throws when no execution context was passed (e.g. app.request in Node tests).
  }
  if (ctx) ctx.waitUntil(promise);
  else promise.catch(() => undefined);
}
