/** Key rotation: a new secret for the same tenant, roles, origins and limit, and the old one retired after a grace period. */
import { type ApiKeyRecord, ApiKeyRecordSchema, generateApiKey, isKeyExpired } from "./api-key.ts";
import type { TenantKeyEntry } from "./tenant-key-index.ts";

/** How long a rotated key keeps working unless told otherwise: a day, to roll a deployment. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
/** The longest grace period: a rotation is not a way to keep two keys for ever. */
export const MAX_ROTATION_GRACE_SECONDS = 30 * 86_400;

export interface RotatedApiKey {
  /** The new secret, shown once. */
  key: string;
  /** The new key's record: the old one's tenant, roles, origins and limit, a new id and hash. */
  record: ApiKeyRecord;
  /** The old key's record with `expiresAt` set to the end of the grace period. */
  retiring: ApiKeyRecord;
}

/**
 * Issues a new key in place of `old`, which stays valid for `graceSeconds` (0: refused at once).
 * A key already retiring keeps its earlier end when that comes first, so rotating twice never
 * extends the life of the first key.
 */
export async function rotateApiKey(
  old: ApiKeyRecord,
  options: { graceSeconds: number; now?: Date },
): Promise<RotatedApiKey> {
  const now = options.now ?? new Date();
  if (isKeyExpired(old, now.getTime())) {
    throw new RangeError(`key ${old.keyId} has already expired; create a new key instead`);
  }
  const fresh = await generateApiKey({
    tenant: old.tenant,
    roles: old.roles,
    ...(old.origins === undefined ? {} : { origins: old.origins }),
    now,
  });
  const { expiresAt: _expiresAt, rotatedFrom: _rotatedFrom, ...inherited } = old;
  const record = ApiKeyRecordSchema.parse({
    ...inherited,
    keyId: fresh.record.keyId,
    keyHash: fresh.record.keyHash,
    createdAt: fresh.record.createdAt,
    rotatedFrom: old.keyId,
  });
  const graceEndMs = now.getTime() + options.graceSeconds * 1000;
  const endMs =
    old.expiresAt === undefined ? graceEndMs : Math.min(graceEndMs, Date.parse(old.expiresAt));
  const retiring = ApiKeyRecordSchema.parse({ ...old, expiresAt: new Date(endMs).toISOString() });
  return { key: fresh.key, record, retiring };
}

/** The tenant key index entries after a rotation: the new key's, and the old one marked retiring. */
export function rotatedIndexEntries(
  old: TenantKeyEntry,
  rotated: RotatedApiKey,
): { fresh: TenantKeyEntry; retiring: TenantKeyEntry } {
  const { rotatedTo: _rotatedTo, expiresAt: _expiresAt, rotatedFrom: _from, ...kept } = old;
  return {
    fresh: {
      ...kept,
      keyHash: rotated.record.keyHash,
      roles: rotated.record.roles,
      createdAt: rotated.record.createdAt,
      rotatedFrom: rotated.retiring.keyId,
    },
    retiring: {
      ...old,
      ...(rotated.retiring.expiresAt === undefined
        ? {}
        : { expiresAt: rotated.retiring.expiresAt }),
      rotatedTo: rotated.record.keyId,
    },
  };
}

/**
 * Why a key cannot be rotated now, or undefined when it can: a revoked or expired key has nothing
 * to hand over, and a key already rotated is replaced by its successor (rotate that one instead).
 */
export function rotationRefusal(
  entry: TenantKeyEntry,
  record: ApiKeyRecord | undefined,
  nowMs: number,
): string | undefined {
  if (entry.rotatedTo !== undefined) {
    return `was already rotated to ${entry.rotatedTo}; rotate that key instead`;
  }
  if (entry.revokedAt !== undefined || record === undefined) {
    return "is revoked; create a new key with npm run keys:create";
  }
  if (isKeyExpired(record, nowMs)) return "has expired; create a new key with npm run keys:create";
  return undefined;
}
