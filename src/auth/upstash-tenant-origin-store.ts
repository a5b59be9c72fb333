/** TenantOriginStore on Upstash Redis (set `tenant:<id>:origins`), cached per isolate. */
import type { Redis } from "@upstash/redis/cloudflare";
import { tenantOriginsRedisKey } from "#core/api-keys";
import { DependencyUnavailableError } from "#core/errors";
import type { TenantOriginStore } from "./auth-ports";

export class UpstashTenantOriginStore implements TenantOriginStore {
  private readonly cache = new Map<string, { origins: readonly string[]; expiresAtMs: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async allowedOrigins(tenant: string): Promise<readonly string[]> {
    const now = this.nowMs();
    const hit = this.cache.get(tenant);
    if (hit && hit.expiresAtMs > now) return hit.origins;
    let origins: string[];
    try {
      origins = await this.redis.smembers(tenantOriginsRedisKey(tenant));
    } catch (err) {
      throw new DependencyUnavailableError("Cannot read allowed origins from Upstash Redis", {
        cause: err,
      });
    }
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(tenant, { origins, expiresAtMs: now + this.ttlMs });
    return origins;
  }
}
