/** The Worker's per-isolate caches: lru-cache with a size bound and per-entry time to live. */
import { LRUCache } from "lru-cache";

export interface BoundedCacheOptions {
  /** Most entries; the least recently used goes first beyond it. */
  maxEntries: number;
  /** Default time to live of an entry, ms (0: no expiry by age). */
  ttlMs?: number;
  /** Clock, ms; injected so tests can move time. */
  nowMs?: () => number;
}

/**
 * Every per-isolate cache of the Worker (API keys, tenant origins, model pointers, rate-limit
 * counts, failed authentications) is one of these, so none grows without bound in a 128 MB isolate.
 * `ttlResolution: 0` reads the clock on every access: lru-cache would otherwise keep a timer to
 * cache `now`, and an isolate's timers belong to requests.
 *
 * @example
 * const keys = boundedCache<ApiKeyRecord>({ maxEntries: 10_000, ttlMs: 10_000 });
 */
export function boundedCache<V extends {}>(options: BoundedCacheOptions): LRUCache<string, V> {
  const ttl = options.ttlMs ?? 0;
  return new LRUCache<string, V>({
    max: options.maxEntries,
    ...(ttl > 0 ? { ttl: lruTtl(ttl) } : {}),
    ttlResolution: 0,
    ...(options.nowMs === undefined ? {} : { perf: { now: options.nowMs } }),
  });
}

/**
 * lru-cache's `ttl` for an entry that expires once `ttlMs` have passed: lru-cache keeps an entry
 * while less than or exactly `ttl` has passed, Driftline's caches drop it at `ttlMs` exactly
 * (a key revoked 10 s ago is refused at 10 s, not 10.001 s).
 */
export function lruTtl(ttlMs: number): number {
  return Math.max(1, ttlMs - 1);
}
