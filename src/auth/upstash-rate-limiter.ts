/** RateLimiter on `@upstash/ratelimit`: a sliding window of requests per API key. */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { RateLimitDecision, RateLimiter, WaitUntil } from "../services";

export interface RateLimitConfig {
  /** Requests allowed per key per window. */
  requests: number;
  windowSeconds: number;
}

export class UpstashRateLimiter implements RateLimiter {
  private readonly ratelimit: Ratelimit;

  /** Build once per isolate: the limiter keeps a local cache of keys that are blocked. */
  constructor(redis: Redis, config: RateLimitConfig) {
    this.ratelimit = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(config.requests, `${config.windowSeconds} s`),
      prefix: "ratelimit:key",
      analytics: false,
      // Fail open after 1 s: a slow Redis must not take scoring down with it.
      timeout: 1_000,
    });
  }

  async limit(identifier: string, waitUntil: WaitUntil): Promise<RateLimitDecision> {
    const result = await this.ratelimit.limit(identifier);
    waitUntil(result.pending);
    return {
      allowed: result.success,
      limit: result.limit,
      remaining: Math.max(0, result.remaining),
      resetAtMs: result.reset,
    };
  }
}
