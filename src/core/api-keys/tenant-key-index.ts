/** The per-tenant key index in Redis (`tenant:<id>:keys`): key id → hash, roles, name, and what rotation and revocation did. */
import { z } from "zod";
import { ROLES } from "./api-key.ts";

/**
 * Redis hash of a tenant's keys: field = key id, value = a TenantKeyEntry (JSON).
 *
 * Authentication finds a key by its hash alone (`key:<sha256>`), but an operator (and the admin
 * API) knows a key by its id, and without Postgres nothing else maps an id to its hash short of
 * scanning every record. `keys:create` therefore also writes this index; `keys:revoke` deletes
 * `key:<sha256>` but keeps the entry with `revokedAt`, and a rotation marks the old entry with
 * `expiresAt` and `rotatedTo`. It holds nothing secret: the SHA-256 of a 256-bit random key is
 * already the name of its record. Being per tenant, a lookup by id never finds another tenant's key.
 */
export function tenantKeysRedisKey(tenant: string): string {
  return `tenant:${tenant}:keys`;
}

export const TenantKeyEntrySchema = z.object({
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  roles: z.array(z.enum(ROLES)).min(1),
  name: z.string().optional(),
  createdAt: z.iso.datetime({ offset: true }),
  revokedAt: z.iso.datetime({ offset: true }).optional(),
  /** When the key stops working (set by a rotation: the end of its grace period). */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  /** The key that replaced this one, and the key this one replaced. */
  rotatedTo: z.string().optional(),
  rotatedFrom: z.string().optional(),
});
export type TenantKeyEntry = z.infer<typeof TenantKeyEntrySchema>;
