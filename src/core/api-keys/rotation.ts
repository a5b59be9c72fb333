/** Key rotation: a new secret for the same tenant, roles, origins and limit, and the old one retired after a grace period. */
import { type ApiKeyRecord, ApiKeyRecordSchema, generateApiKey, isKeyExpired } from "./api-key.ts";

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
