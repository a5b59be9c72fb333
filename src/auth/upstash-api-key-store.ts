/** ApiKeyStore on Upstash Redis (`key:<sha256>` → record), with a short per-isolate cache. */
import type { Redis } from "@upstash/redis/cloudflare";
import { type ApiKeyRecord, ApiKeyRecordSchema, apiKeyRedisKey } from "#core/api-keys";
import { DependencyUnavailableError } from "#core/errors";
import type { ApiKeyStore } from "./auth-ports";

interface CacheEntry<T> {
  value: T;
  expiresAtMs: number;
}

/** Unknown hashes are remembered for less time, so a key used right after creation works soon. */
const NEGATIVE_TTL_MS = 2_000;
const MAX_KNOWN_KEYS = 10_000;
const MAX_UNKNOWN_KEYS = 10_000;

/**
 * A Map with a size bound that, when full, drops its oldest entry (insertion order), not all.
 * Known and unknown keys live in two of them, so a flood of forged keys only ever evicts other
 * unknown ones and valid keys stay cached (and off Redis).
 */
class BoundedTtlMap<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();
  constructor(private readonly maxEntries: number) {}

  get(key: string, nowMs: number): CacheEntry<T> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > nowMs) return entry;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: T, expiresAtMs: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAtMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * A key revoked in Redis stops working in an isolate at most `ttlMs` later. The cache is keyed by
 * the hash, never by the key itself, so the secret does not stay in memory.
 */
export class UpstashApiKeyStore implements ApiKeyStore {
  private readonly known: BoundedTtlMap<ApiKeyRecord>;
  private readonly unknown: BoundedTtlMap<true>;

  constructor(
    private readonly redis: Pick<Redis, "get">,
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
    bounds: { knownKeys?: number; unknownKeys?: number } = {},
  ) {
    this.known = new BoundedTtlMap(bounds.knownKeys ?? MAX_KNOWN_KEYS);
    this.unknown = new BoundedTtlMap(bounds.unknownKeys ?? MAX_UNKNOWN_KEYS);
  }

  /** Entries cached now: known keys and unknown hashes (for tests and diagnostics). */
  cached(): { known: number; unknown: number } {
    return { known: this.known.size, unknown: this.unknown.size };
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const now = this.nowMs();
    const hit = this.known.get(keyHash, now);
    if (hit) return hit.value;
    if (this.unknown.get(keyHash, now)) return undefined;
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
    if (record) this.known.set(keyHash, record, now + this.ttlMs);
    else this.unknown.set(keyHash, true, now + Math.min(this.ttlMs, NEGATIVE_TTL_MS));
    return record;
  }
}
