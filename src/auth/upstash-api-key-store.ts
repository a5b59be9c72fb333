/** ApiKeyStore on Upstash Redis (`key:<sha256>` → record), with a short per-isolate cache. */
import type { Redis } from "@upstash/redis/cloudflare";
import {
  type ApiKeyRecord,
  ApiKeyRecordSchema,
  apiKeyRedisKey,
  isKeyExpired,
} from "#core/api-keys";
import { DependencyUnavailableError } from "#core/errors";
import { boundedCache, lruTtl } from "../cache/bounded-cache";
import type { Logger } from "../observability/logger";
import type { ApiKeyStore } from "./auth-ports";

/** Unknown hashes are remembered for less time, so a key used right after creation works soon. */
const NEGATIVE_TTL_MS = 2_000;
const MAX_KNOWN_KEYS = 10_000;
const MAX_UNKNOWN_KEYS = 10_000;

/**
 * A key revoked in Redis stops working in an isolate at most `ttlMs` later; a rotated key at its
 * `expiresAt` exactly (its cache entry never outlives it). The cache is keyed by the hash, never
 * by the key itself, so the secret does not stay in memory. Known and unknown keys live in two
 * bounded caches, so a flood of forged keys only ever evicts other unknown ones and valid keys
 * stay cached (and off Redis).
 */
export class UpstashApiKeyStore implements ApiKeyStore {
  private readonly known;
  private readonly unknown;

  constructor(
    private readonly redis: Pick<Redis, "get">,
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
    bounds: { knownKeys?: number; unknownKeys?: number } = {},
    private readonly log?: Logger,
  ) {
    this.known = boundedCache<ApiKeyRecord>({
      maxEntries: bounds.knownKeys ?? MAX_KNOWN_KEYS,
      nowMs,
    });
    this.unknown = boundedCache<true>({
      maxEntries: bounds.unknownKeys ?? MAX_UNKNOWN_KEYS,
      nowMs,
    });
  }

  /** Entries cached now: known keys and unknown hashes (for tests and diagnostics). */
  cached(): { known: number; unknown: number } {
    return { known: this.known.size, unknown: this.unknown.size };
  }

  /** Forgets a key at once in this isolate (after the admin API changed or rotated it). */
  forget(keyHash: string): void {
    this.known.delete(keyHash);
    this.unknown.delete(keyHash);
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const now = this.nowMs();
    const hit = this.known.get(keyHash);
    if (hit) return isKeyExpired(hit, now) ? undefined : hit;
    if (this.unknown.get(keyHash)) return undefined;
    let raw: unknown;
    try {
      raw = await this.redis.get(apiKeyRedisKey(keyHash));
    } catch (err) {
      throw new DependencyUnavailableError(
        "Cannot check the API key: Upstash Redis is unreachable",
        { cause: err },
      );
    }
    const parsed = raw === null ? undefined : ApiKeyRecordSchema.safeParse(raw);
    // A malformed record authenticates nothing; it is logged, not trusted.
    if (parsed && !parsed.success)
      this.log?.error("malformed API key record in Redis", { keyHash });
    const record = parsed?.success ? parsed.data : undefined;
    if (record && !isKeyExpired(record, now)) {
      const untilExpiry =
        record.expiresAt === undefined ? this.ttlMs : Date.parse(record.expiresAt) - now;
      const ttl = Math.min(this.ttlMs, untilExpiry);
      if (ttl > 0) this.known.set(keyHash, record, { ttl: lruTtl(ttl) });
      return record;
    }
    const ttl = Math.min(this.ttlMs, NEGATIVE_TTL_MS);
    if (ttl > 0) this.unknown.set(keyHash, true, { ttl: lruTtl(ttl) });
    return undefined;
  }
}
