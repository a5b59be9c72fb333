/** ApiKeyStore on Upstash Redis (`key:<sha256>` → record), with a short per-isolate cache. */
import type { Redis } from "@upstash/redis/cloudflare";
import { type ApiKeyRecord, ApiKeyRecordSchema, apiKeyRedisKey } from "#core/api-keys";
import { DependencyUnavailableError } from "#core/errors";
import type { ApiKeyStore } from "./auth-ports";

interface CacheEntry {
  record: ApiKeyRecord | undefined;
  expiresAtMs: number;
}

/** Unknown hashes are remembered for less time, so a key used right after creation works soon. */
const NEGATIVE_TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

/**
 * A key revoked in Redis stops working in an isolate at most `ttlMs` later. The cache is keyed by
 * the hash, never by the key itself, so the secret does not stay in memory.
 */
export class UpstashApiKeyStore implements ApiKeyStore {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const now = this.nowMs();
    const hit = this.cache.get(keyHash);
    if (hit && hit.expiresAtMs > now) return hit.record;
    let raw: unknown;
    try {
      raw = await this.redis.get(apiKeyRedisKey(keyHash));
    } catch (err) {
      throw new DependencyUnavailableError(
        "Cannot check the API key: Upstash Redis is unreachable",
        {
          cause: err,
        },
      );
    }
    const parsed = raw === null ? undefined : ApiKeyRecordSchema.safeParse(raw);
    // A malformed record authenticates nothing; it is logged, not trusted.
    if (parsed && !parsed.success) {
      console.error(
        JSON.stringify({ level: "error", msg: "malformed API key record in Redis", keyHash }),
      );
    }
    const record = parsed?.success ? parsed.data : undefined;
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(keyHash, {
      record,
      expiresAtMs: now + (record ? this.ttlMs : Math.min(this.ttlMs, NEGATIVE_TTL_MS)),
    });
    return record;
  }
}
