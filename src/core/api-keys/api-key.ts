/** Driftline API keys: `dl_<random>` secrets, stored only as SHA-256 hashes with tenant and roles. */
import { z } from "zod";
import { sha256Hex } from "../events/sha256-hex.ts";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "../scoring/names.ts";
import { KeyRateLimitSchema } from "./rate-limit-policy.ts";

/** `read`: the read API (metrics, drift, performance, alerts, retraining requests); `admin` implies it. */
export const ROLES = ["ingest", "score", "admin", "read"] as const;
export type Role = (typeof ROLES)[number];

/** Roles a role grants besides itself: an admin key reads too. */
const IMPLIED_ROLES: Partial<Record<Role, readonly Role[]>> = { admin: ["read"] };

/** Whether a key with `roles` may act as `role` (directly or through an implied role). */
export function grantsRole(roles: readonly Role[], role: Role): boolean {
  return roles.some((r) => r === role || (IMPLIED_ROLES[r]?.includes(role) ?? false));
}

/** 32 random bytes, base64url without padding: 43 characters, 256 bits. */
const SECRET_BYTES = 32;
export const API_KEY_PREFIX = "dl_";
/** Anything shaped like a Driftline key; checked before hashing so garbage never reaches Redis. */
export const API_KEY_PATTERN = /^dl_[A-Za-z0-9_-]{16,128}$/;

export const ApiKeyRecordSchema = z.object({
  tenant: z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE),
  roles: z.array(z.enum(ROLES)).min(1),
  /** Public identifier for logs, listings and rate-limit buckets; not derived from the secret. */
  keyId: z.string().min(1).max(64),
  createdAt: z.iso.datetime({ offset: true }),
  /** Hex SHA-256 of the key, kept so a lookup can be re-checked in constant time. */
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * Browser origins the key was created for (`keys:create --origins`): such a key is publishable,
   * made to be embedded in web pages, and its events never claim a server event's id. Absent
   * (keys created before the field, or without origins): a server key.
   */
  origins: z.array(z.string().min(1)).optional(),
  /** The key's own request limit; absent: the Worker's default for its roles. */
  rateLimit: KeyRateLimitSchema.optional(),
  /** When the key stops authenticating: the end of the grace period of a rotation. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  /** The key id this key replaced (rotation); it shares its tenant, roles, origins and limit. */
  rotatedFrom: z.string().min(1).max(64).optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

/** Whether the key's grace period (after a rotation) is over at `nowMs`. */
export function isKeyExpired(record: Pick<ApiKeyRecord, "expiresAt">, nowMs: number): boolean {
  return record.expiresAt !== undefined && Date.parse(record.expiresAt) <= nowMs;
}

/** Redis key of a key's record. */
export function apiKeyRedisKey(keyHash: string): string {
  return `key:${keyHash}`;
}

/** Redis set of the origins a tenant's browser ingest accepts (CORS). */
export function tenantOriginsRedisKey(tenant: string): string {
  return `tenant:${tenant}:origins`;
}

/** `browser` for a publishable key (created with origins), else `server`. */
export function keyKindOf(record: Pick<ApiKeyRecord, "origins">): "browser" | "server" {
  return record.origins !== undefined && record.origins.length > 0 ? "browser" : "server";
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const encoder = new TextEncoder();

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += HEX[b];
  return hex;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Hex SHA-256 of the key's UTF-8 bytes. Every authenticated request hashes its key: the event
 * core's synchronous SHA-256 (@noble/hashes) costs the Worker less than a WebCrypto digest (a
 * promise and an ArrayBuffer, then hex made byte by byte). Async so that callers need not change
 * if the hash ever moves back to WebCrypto.
 */
export async function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

export interface NewApiKey {
  /** The secret, shown once. */
  key: string;
  record: ApiKeyRecord;
}

/** A fresh key and the record to store under `apiKeyRedisKey(record.keyHash)`. */
export async function generateApiKey(input: {
  tenant: string;
  roles: readonly Role[];
  /** Browser origins: makes the key a publishable (browser) key. */
  origins?: readonly string[];
  now?: Date;
}): Promise<NewApiKey> {
  const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  const key = `${API_KEY_PREFIX}${toBase64Url(secret)}`;
  const keyId = `key_${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
  const record = ApiKeyRecordSchema.parse({
    tenant: input.tenant,
    roles: [...new Set(input.roles)],
    keyId,
    createdAt: (input.now ?? new Date()).toISOString(),
    keyHash: await hashApiKey(key),
    ...(input.origins === undefined || input.origins.length === 0
      ? {}
      : { origins: [...new Set(input.origins)] }),
  });
  return { key, record };
}

/**
 * Compares two strings without an early exit, so the time taken does not reveal how many leading
 * characters match. Hand-written because `crypto.subtle.timingSafeEqual` exists only in workerd
 * and `node:crypto` is not available there; both inputs here are fixed-length hex digests.
 */
export function timingSafeEqualText(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let diff = left.length ^ right.length;
  const n = Math.max(left.length, right.length);
  for (let i = 0; i < n; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}
