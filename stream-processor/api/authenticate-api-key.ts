/** Bearer API key authentication: SHA-256 of the key looked up in the store, compared in constant time. */
import { createHash, timingSafeEqual } from "node:crypto";
import { DriftlineError } from "#core/errors";
import type { Clock } from "../clock/clock";
import type { ApiKeyRole, ApiKeyStore, StoredApiKey } from "./api-key-store";

export interface AuthenticatedKey {
  tenantId: string;
  keyId: string;
  roles: readonly ApiKeyRole[];
}

export interface ApiKeyAuthenticatorOptions {
  store: ApiKeyStore;
  clock: Clock;
  /** Lookups (hits and misses) are cached this long; also how long a revocation takes to bite. */
  cacheTtlMs: number;
  /** Roles of which the key needs at least one. */
  requiredRoles: readonly ApiKeyRole[];
}

/** Cached lookups at most; the oldest is dropped beyond this (bounds memory under key spraying). */
const MAX_CACHED = 10_000;
const HASH_HEX = /^[0-9a-f]{64}$/;

/**
 * Returns `authenticate(authorizationHeader)`, which resolves the caller's key or throws an
 * UNAUTHENTICATED (no/unknown/revoked key) or FORBIDDEN (key lacks the role) DriftlineError. The
 * key itself is never stored or logged; only its SHA-256 is used. The database finds the row by
 * hash (timing there reveals nothing usable about the secret, SHA-256 being one-way); the found
 * hash is then compared with the computed one in constant time, as a second check.
 */
export function createApiKeyAuthenticator(options: ApiKeyAuthenticatorOptions) {
  const cache = new Map<string, { key: StoredApiKey | undefined; expiresAtMs: number }>();

  async function lookup(hashHex: string): Promise<StoredApiKey | undefined> {
    const now = options.clock.nowMs();
    const hit = cache.get(hashHex);
    if (hit !== undefined && hit.expiresAtMs > now) return hit.key;
    const key = await options.store.findByHash(hashHex);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(hashHex, { key, expiresAtMs: now + options.cacheTtlMs });
    return key;
  }

  return async function authenticate(authorization: string | undefined): Promise<AuthenticatedKey> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (match === null) {
      throw new DriftlineError(
        "UNAUTHENTICATED",
        "Send your API key as `Authorization: Bearer <key>`.",
      );
    }
    const hashHex = createHash("sha256").update(match[1]!, "utf8").digest("hex");
    const key = await lookup(hashHex);
    if (key === undefined || !HASH_HEX.test(key.keyHash) || !sameHash(hashHex, key.keyHash)) {
      throw new DriftlineError("UNAUTHENTICATED", "The API key is not valid.");
    }
    if (key.revoked) throw new DriftlineError("UNAUTHENTICATED", "The API key has been revoked.");
    if (!key.roles.some((r) => options.requiredRoles.includes(r))) {
      throw new DriftlineError(
        "FORBIDDEN",
        `This key lacks the role to read metrics; it needs one of: ${options.requiredRoles.join(", ")}.`,
      );
    }
    return { tenantId: key.tenantId, keyId: key.keyId, roles: key.roles };
  };
}

function sameHash(aHex: string, bHex: string): boolean {
  return timingSafeEqual(Buffer.from(aHex, "hex"), Buffer.from(bHex, "hex"));
}
