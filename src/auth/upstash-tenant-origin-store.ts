/** TenantOriginStore on Upstash Redis (set `tenant:<id>:origins`), cached per isolate. */
import type { Redis } from "@upstash/redis/cloudflare";
import { tenantOriginsRedisKey } from "#core/api-keys";
import { DependencyUnavailableError } from "#core/errors";
import { boundedCache } from "../cache/bounded-cache";
import type { TenantOriginStore } from "./auth-ports";

/** Tenants whose origins an isolate keeps (least recently used dropped beyond it). */
const MAX_CACHED_TENANTS = 10_000;

export class UpstashTenantOriginStore implements TenantOriginStore {
  private readonly cache;

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    nowMs: () => number = Date.now,
  ) {
    this.cache = boundedCache<readonly string[]>({ maxEntries: MAX_CACHED_TENANTS, ttlMs, nowMs });
  }

  async allowedOrigins(tenant: string): Promise<readonly string[]> {
    const hit = this.cache.get(tenant);
    if (hit) return hit;
    let origins: string[];
    try {
      origins = await this.redis.smembers(tenantOriginsRedisKey(tenant));
    } catch (err) {
      throw new DependencyUnavailableError("Cannot read allowed origins from Upstash Redis", {
        cause: err,
      });
    }
    if (this.ttlMs > 0) this.cache.set(tenant, origins);
    return origins;
  }
}
