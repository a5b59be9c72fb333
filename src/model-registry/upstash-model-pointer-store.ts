/** ModelPointerStore on Upstash Redis (`model:<t>:<name>:active`), cached briefly per isolate. */
import type { Redis } from "@upstash/redis/cloudflare";
import { DependencyUnavailableError } from "#core/errors";
import { type ActivePointer, ActivePointerSchema } from "#core/scoring";
import { boundedCache } from "../cache/bounded-cache";
import type { ModelPointerStore } from "./model-registry-ports";

export function activePointerRedisKey(tenant: string, name: string): string {
  return `model:${tenant}:${name}:active`;
}

/** A cached read; `pointer` undefined: the tenant has none (the bundled default serves). */
interface CacheEntry {
  pointer: ActivePointer | undefined;
}

/** Pointers cached per isolate (least recently used dropped beyond it). */
const MAX_CACHED_POINTERS = 10_000;

/**
 * Every isolate re-reads a pointer at most `ttlMs` after it last read it, so a promotion reaches
 * all isolates within `ttlMs` plus one Redis round trip, without a redeploy. The isolate that
 * performs a promotion sees it at once.
 */
export class UpstashModelPointerStore implements ModelPointerStore {
  private readonly cache;

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    nowMs: () => number = Date.now,
  ) {
    this.cache = boundedCache<CacheEntry>({ maxEntries: MAX_CACHED_POINTERS, ttlMs, nowMs });
  }

  async get(tenant: string, name: string): Promise<ActivePointer | undefined> {
    const key = activePointerRedisKey(tenant, name);
    const hit = this.cache.get(key);
    if (hit) return hit.pointer;
    let raw: unknown;
    try {
      raw = await this.redis.get(key);
    } catch (err) {
      throw new DependencyUnavailableError(
        "Cannot read the active model version from Upstash Redis",
        {
          cause: err,
        },
      );
    }
    const parsed = raw === null ? undefined : ActivePointerSchema.safeParse(raw);
    if (parsed && !parsed.success) {
      throw new DependencyUnavailableError(
        `The active-version pointer ${key} in Redis is malformed; promote a version again to rewrite it`,
      );
    }
    const pointer = parsed?.data;
    this.remember(key, pointer);
    return pointer;
  }

  async set(tenant: string, name: string, pointer: ActivePointer): Promise<void> {
    const key = activePointerRedisKey(tenant, name);
    await this.redis.set(key, ActivePointerSchema.parse(pointer));
    this.remember(key, pointer);
  }

  private remember(key: string, pointer: ActivePointer | undefined): void {
    if (this.ttlMs > 0) this.cache.set(key, { pointer });
  }
}
