/** KeyAdminStore on Upstash Redis: the tenant's key index finds the record by id; records change in one MULTI/EXEC. */
import type { Redis } from "@upstash/redis/cloudflare";
import {
  type ApiKeyRecord,
  ApiKeyRecordSchema,
  apiKeyRedisKey,
  isKeyExpired,
  type KeyRateLimit,
  type RotatedApiKey,
  rotateApiKey,
  rotatedIndexEntries,
  rotationRefusal,
  type TenantKeyEntry,
  TenantKeyEntrySchema,
  tenantKeysRedisKey,
} from "#core/api-keys";
import { ConflictError, DependencyUnavailableError } from "#core/errors";
import type { KeyAdminStore, KeyChangeHook } from "./key-admin-store";

interface FoundKey {
  entry: TenantKeyEntry;
  record: ApiKeyRecord | undefined;
}

/**
 * Every lookup goes through `tenant:<tenant>:keys`, so a key id of another tenant is simply not
 * found. A changed record keeps its Redis expiry (a retiring key's), and `forget` drops it from
 * this isolate's key cache at once; other isolates see it within API_KEY_CACHE_TTL_MS.
 */
export class UpstashKeyAdminStore implements KeyAdminStore {
  constructor(
    private readonly redis: Redis,
    private readonly forget: (keyHash: string) => void = () => undefined,
  ) {}

  private async find(tenant: string, keyId: string): Promise<FoundKey | undefined> {
    const rawEntry = await this.redis
      .hget<unknown>(tenantKeysRedisKey(tenant), keyId)
      .catch(unavailable);
    const entry = rawEntry === null ? undefined : TenantKeyEntrySchema.safeParse(rawEntry);
    if (entry === undefined || !entry.success) return undefined;
    const rawRecord = await this.redis
      .get<unknown>(apiKeyRedisKey(entry.data.keyHash))
      .catch(unavailable);
    const record = rawRecord === null ? undefined : ApiKeyRecordSchema.safeParse(rawRecord);
    return {
      entry: entry.data,
      record: record?.success && record.data.tenant === tenant ? record.data : undefined,
    };
  }

  async setRateLimit(
    tenant: string,
    keyId: string,
    rateLimit: KeyRateLimit | null,
    beforeChange?: KeyChangeHook,
  ): Promise<ApiKeyRecord | undefined> {
    const found = await this.find(tenant, keyId);
    if (found?.record === undefined || isKeyExpired(found.record, Date.now())) return undefined;
    const { rateLimit: _previous, ...rest } = found.record;
    const record = ApiKeyRecordSchema.parse(rateLimit === null ? rest : { ...rest, rateLimit });
    await beforeChange?.(found.record, record);
    await this.redis
      .set(apiKeyRedisKey(record.keyHash), record, { keepTtl: true })
      .catch(unavailable);
    this.forget(record.keyHash);
    return record;
  }

  async rotate(
    tenant: string,
    keyId: string,
    options: { graceSeconds: number; now: Date; beforeChange?: KeyChangeHook },
  ): Promise<RotatedApiKey | undefined> {
    const found = await this.find(tenant, keyId);
    if (found === undefined) return undefined;
    const refusal = rotationRefusal(found.entry, found.record, options.now.getTime());
    if (refusal !== undefined || found.record === undefined) {
      throw new ConflictError(`Key ${keyId} ${refusal ?? "cannot be rotated"}.`);
    }
    const rotated = await rotateApiKey(found.record, options);
    const { fresh, retiring } = rotatedIndexEntries(found.entry, rotated);
    await options.beforeChange?.(found.record, rotated.retiring);
    const endMs = Date.parse(rotated.retiring.expiresAt ?? options.now.toISOString());
    const tx = this.redis.multi().set(apiKeyRedisKey(rotated.record.keyHash), rotated.record);
    // The old record disappears from Redis when its grace period ends; the Worker also refuses
    // it by `expiresAt` (cached records included), whichever comes first.
    if (endMs > options.now.getTime()) {
      tx.set(apiKeyRedisKey(rotated.retiring.keyHash), rotated.retiring, { pxat: endMs });
    } else {
      tx.del(apiKeyRedisKey(rotated.retiring.keyHash));
    }
    tx.hset(tenantKeysRedisKey(tenant), {
      [rotated.record.keyId]: fresh,
      [rotated.retiring.keyId]: retiring,
    });
    await tx.exec().catch(unavailable);
    this.forget(rotated.retiring.keyHash);
    return rotated;
  }
}

function unavailable(err: unknown): never {
  throw new DependencyUnavailableError("Cannot read or change the API key in Upstash Redis", {
    cause: err,
  });
}
