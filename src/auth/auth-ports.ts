/** The ports authentication depends on: key lookups, rate limits, tenant origins. */
import type { ApiKeyRecord, Role } from "#core/api-keys";
import type { WaitUntil } from "../http/wait-until";

/** API key records by the hex SHA-256 of the key. */
export interface ApiKeyStore {
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Requests allowed per window. */
  limit: number;
  remaining: number;
  /** Epoch ms at which the window has room again. */
  resetAtMs: number;
}

export interface RateLimiter {
  /** Counts one request for `identifier` (an API key id) and says whether it may pass. */
  limit(identifier: string, waitUntil: WaitUntil): Promise<RateLimitDecision>;
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
}
