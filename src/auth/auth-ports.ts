/** The ports authentication depends on: key lookups, rate limits, tenant origins. */
import type { ApiKeyRecord, Role } from "#core/api-keys";
import type { WaitUntil } from "../http/wait-until";

/** API key records by the hex SHA-256 of the key. */
export interface ApiKeyStore {
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Units (requests, events or bytes) allowed per window. */
  limit: number;
  remaining: number;
  /** Epoch ms at which the window has room again. */
  resetAtMs: number;
  windowSeconds: number;
}

/** A limit: `limit` units per sliding window of `windowSeconds`. */
export interface RateLimitPolicy {
  limit: number;
  windowSeconds: number;
}

export interface RateLimiter {
  /**
   * Counts `units` (default 1: one request) for `identifier` (an API key id) against `policy`
   * (default: the limiter's own) and says whether the request may pass.
   */
  limit(
    identifier: string,
    waitUntil: WaitUntil,
    units?: number,
    policy?: RateLimitPolicy,
  ): Promise<RateLimitDecision>;
}

/** What a key may spend per window besides requests; each budget is its own sliding window. */
export interface UsageBudgets {
  /** Events sent (every event of a request, valid or not) and rows scored. */
  events: RateLimiter;
  /** Bytes of event request bodies. */
  bytes: RateLimiter;
}

/** Origins allowed to call a tenant's browser-facing routes (CORS). */
export interface TenantOriginStore {
  allowedOrigins(tenant: string): Promise<readonly string[]>;
}

/** Who is calling: the tenant and roles of the request's key, set by requireKey. */
export interface AuthContext {
  tenant: string;
  keyId: string;
  roles: readonly Role[];
  /** `browser`: a publishable key (created with origins); `server`: a secret server key. */
  keyKind: "browser" | "server";
}

/**
 * Failed authentications per client address: past the limit a client is refused before its key
 * is looked up, so forged keys cannot hammer the key store.
 */
export interface AuthFailureLimiter {
  /** Seconds until `client` may try again, or undefined when it may try now. */
  retryAfterSeconds(client: string): number | undefined;
  recordFailure(client: string): void;
}
