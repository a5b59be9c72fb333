/** TenantForwarding on Upstash Redis (`tenant:<id>:forwarding`, set by the destinations API), cached per isolate. */
import type { Redis } from "@upstash/redis/cloudflare";
import { tenantForwardingRedisKey } from "#core/destinations";
import type { TenantForwarding } from "./ingest-ports";

export class UpstashTenantForwarding implements TenantForwarding {
  private readonly cache = new Map<string, { forwarding: boolean; expiresAtMs: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async isForwarding(tenant: string): Promise<boolean> {
    const now = this.nowMs();
    const hit = this.cache.get(tenant);
    if (hit && hit.expiresAtMs > now) return hit.forwarding;
    let forwarding: boolean;
    try {
      forwarding = (await this.redis.exists(tenantForwardingRedisKey(tenant))) === 1;
    } catch {
      // Unknown: keep the personal data out (a destination then matches on less, for a while).
      return false;
    }
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(tenant, { forwarding, expiresAtMs: now + this.ttlMs });
    return forwarding;
  }

  async setForwarding(tenant: string, forwarding: boolean): Promise<void> {
    if (forwarding) await this.redis.set(tenantForwardingRedisKey(tenant), "1");
    else await this.redis.del(tenantForwardingRedisKey(tenant));
    this.cache.delete(tenant);
  }
}
