/** RateLimiter on `@upstash/ratelimit`: a sliding window of units (requests, events, bytes) per API key, counted ahead locally. */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { boundedCache } from "../cache/bounded-cache";
import type { WaitUntil } from "../http/wait-until";
import type { Logger } from "../observability/logger";
import type { RateLimitDecision, RateLimiter, RateLimitPolicy } from "./auth-ports";
import { CoalescedFlushes } from "./coalesced-flushes";

export interface RateLimitConfig {
  /** Units (requests, events or bytes) allowed per key per window. */
  limit: number;
  windowSeconds: number;
  /** Redis key prefix; one per budget, so each budget has its own window. */
  prefix?: string;
  /** A key's local count is trusted this long after its last answer from Redis. */
  maxStaleMs?: number;
  /**
   * Where counts admitted locally gather before they go to Redis; share one between the budgets
   * so their flushes go out in one request. Default: a round of its own every 250 ms.
   */
  flushes?: CoalescedFlushes;
  log?: Logger;
}

interface KeyState {
  /** The policy the state counts against (`limit/windowSeconds`); a new one starts afresh. */
  policy: string;
  limit: number;
  /** Remaining units per Redis' last answer. */
  remaining: number;
  resetAtMs: number;
  syncedAtMs: number;
  /** Units admitted here and not yet sent to Redis. */
  pending: number;
  /** Units sent to Redis whose answer has not come back yet. */
  inflight: number;
  /** When a flush was scheduled that has not yet taken its snapshot of `pending`. */
  flushScheduledAtMs: number | undefined;
}

const MAX_KEYS = 10_000;
/** Distinct per-key policies an isolate keeps a limiter for (few in practice). */
const MAX_POLICIES = 256;
const DEFAULT_FLUSH_LINGER_MS = 250;
/** How long Redis is left alone after it failed a rate-limit call. */
const BREAKER_OPEN_MS = 10_000;
/** A scheduled flush older than this is presumed lost with its request; the next one replaces it. */
const STALE_FLUSH_MS = 10_000;

/** Units this isolate may still admit by its own count. */
function estimate(state: KeyState): number {
  return state.remaining - state.pending - state.inflight;
}

/**
 * The window itself is `@upstash/ratelimit`'s sliding window in Redis. Asking Redis on every
 * request would put a round trip on every score, so each isolate counts ahead: while a key's
 * last answer is fresh (≤ maxStaleMs) and leaves at least a small margin after the request's
 * units (1 per request; N events or bytes for the ingest budgets), a request is admitted
 * from the local count, and the counts gathered over a linger go to Redis in one call after the
 * response (`waitUntil`, Ratelimit's `rate`), together with every other budget's and key's due in
 * the same round (`CoalescedFlushes`). The request that opens a round carries it; counts arriving
 * after its snapshot join the next one, so no request waits on another's.
 * Near the limit, on the first request of a key, or when the local count is stale, the request
 * waits for Redis with all its units, so one isolate never exceeds the limit; across isolates the
 * overshoot is at most what they admit between two flushes while above the margin. A request
 * Redis refuses still counts its units there (the library adds them before it compares), so a
 * sender over its budget waits for the window to slide rather than retrying at once.
 * The counting-ahead wrapper is written here because the library's only cached limiter
 * (`cachedFixedWindow`) is a fixed window.
 */
export class UpstashRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly limiters;
  private readonly states;
  private readonly flushes: CoalescedFlushes;
  private readonly maxStaleMs: number;
  private readonly defaultPolicy: RateLimitPolicy;
  private readonly log: Logger | undefined;
  /** Until when Redis is not asked after a failure (the breaker is open), epoch ms. */
  private redisDownUntilMs = 0;
  /** Fixed windows counted in this isolate while the breaker is open. */
  private readonly localWindows;

  /** Build once per isolate: the local counts and the library's blocked-key cache live in it. */
  constructor(
    redis: Redis,
    config: RateLimitConfig,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.redis = redis;
    this.prefix = config.prefix ?? "ratelimit:key";
    this.defaultPolicy = { limit: config.limit, windowSeconds: config.windowSeconds };
    this.maxStaleMs = config.maxStaleMs ?? 2_000;
    this.flushes = config.flushes ?? new CoalescedFlushes(DEFAULT_FLUSH_LINGER_MS, nowMs);
    this.log = config.log;
    this.limiters = boundedCache<Ratelimit>({ maxEntries: MAX_POLICIES });
    this.states = boundedCache<KeyState>({ maxEntries: MAX_KEYS, nowMs });
    this.localWindows = boundedCache<{ startMs: number; count: number }>({
      maxEntries: MAX_KEYS,
      nowMs,
    });
  }

  /** The library's limiter for a policy; one per distinct (limit, window), same Redis keys. */
  private ratelimit(policy: RateLimitPolicy): Ratelimit {
    const name = policyName(policy);
    let limiter = this.limiters.get(name);
    if (limiter === undefined) {
      limiter = new Ratelimit({
        redis: this.redis,
        limiter: Ratelimit.slidingWindow(policy.limit, `${policy.windowSeconds} s`),
        prefix: this.prefix,
        analytics: false,
        // Fail open after 1 s: a slow Redis must not take scoring down with it.
        timeout: 1_000,
      });
      this.limiters.set(name, limiter);
    }
    return limiter;
  }

  async limit(
    identifier: string,
    waitUntil: WaitUntil,
    units = 1,
    policy: RateLimitPolicy = this.defaultPolicy,
  ): Promise<RateLimitDecision> {
    const now = this.nowMs();
    if (now < this.redisDownUntilMs) return this.limitLocally(identifier, units, now, policy);
    const name = policyName(policy);
    let state = this.states.get(identifier);
    // A key whose limit changed (admin API) counts against the new one from its next answer.
    if (state !== undefined && state.policy !== name) {
      this.states.delete(identifier);
      state = undefined;
    }
    if (
      state &&
      now - state.syncedAtMs <= this.maxStaleMs &&
      estimate(state) - units >= marginOf(policy)
    ) {
      state.pending += units;
      const decision = {
        allowed: true,
        limit: state.limit,
        remaining: estimate(state),
        resetAtMs: state.resetAtMs,
        windowSeconds: policy.windowSeconds,
      };
      this.scheduleFlush(identifier, state, waitUntil, policy);
      return decision;
    }

    // Ask Redis now, counting this request and any admitted ones not yet sent.
    const carried = state ? state.pending : 0;
    const sent = units + carried;
    if (state) {
      state.pending -= carried;
      state.inflight += sent;
    }
    let result: Awaited<ReturnType<Ratelimit["limit"]>>;
    try {
      result = await this.ratelimit(policy).limit(identifier, { rate: sent });
    } catch (err) {
      return this.redisFailed(identifier, sent, now, String(err), policy);
    } finally {
      if (state) state.inflight -= sent;
    }
    waitUntil(result.pending);
    if (result.reason === "timeout") {
      return this.redisFailed(identifier, sent, now, "timeout", policy);
    }
    const next = this.remember(identifier, result, state, name);
    return {
      allowed: result.success,
      limit: result.limit,
      remaining: Math.max(0, estimate(next)),
      resetAtMs: result.reset,
      windowSeconds: policy.windowSeconds,
    };
  }

  /**
   * Redis failed or timed out: for BREAKER_OPEN_MS the isolate stops asking it (no request waits
   * on a dead Redis, nothing hammers a struggling one) and counts each key locally against the
   * same limit, so an outage bounds a key at the limit per isolate instead of admitting all.
   */
  private redisFailed(
    identifier: string,
    units: number,
    nowMs: number,
    error: string,
    policy: RateLimitPolicy,
  ): RateLimitDecision {
    this.redisDownUntilMs = nowMs + BREAKER_OPEN_MS;
    this.log?.warn("rate limit check failed; counting in this isolate until Redis answers again", {
      retryInMs: BREAKER_OPEN_MS,
      error,
    });
    return this.limitLocally(identifier, units, nowMs, policy);
  }

  private limitLocally(
    identifier: string,
    units: number,
    nowMs: number,
    policy: RateLimitPolicy,
  ): RateLimitDecision {
    const windowMs = policy.windowSeconds * 1000;
    const startMs = nowMs - (nowMs % windowMs);
    const key = `${identifier}\n${policyName(policy)}`;
    let window = this.localWindows.get(key);
    if (window === undefined || window.startMs !== startMs) {
      window = { startMs, count: 0 };
      this.localWindows.set(key, window);
    }
    const allowed = window.count + units <= policy.limit;
    if (allowed) window.count += units;
    return {
      allowed,
      limit: policy.limit,
      remaining: Math.max(0, policy.limit - window.count),
      resetAtMs: startMs + windowMs,
      windowSeconds: policy.windowSeconds,
    };
  }

  private remember(
    identifier: string,
    result: { limit: number; remaining: number; reset: number },
    previous: KeyState | undefined,
    policy: string,
  ): KeyState {
    const existing = previous ?? this.states.get(identifier);
    const state: KeyState = existing ?? {
      policy,
      limit: result.limit,
      remaining: 0,
      resetAtMs: 0,
      syncedAtMs: 0,
      pending: 0,
      inflight: 0,
      flushScheduledAtMs: undefined,
    };
    state.limit = result.limit;
    state.remaining = Math.max(0, result.remaining);
    state.resetAtMs = result.reset;
    state.syncedAtMs = this.nowMs();
    if (!existing) this.states.set(identifier, state);
    return state;
  }

  /** Schedules one call that sends the counts admitted locally, unless one is already waiting. */
  private scheduleFlush(
    identifier: string,
    state: KeyState,
    waitUntil: WaitUntil,
    policy: RateLimitPolicy,
  ): void {
    const now = this.nowMs();
    if (state.flushScheduledAtMs !== undefined && now - state.flushScheduledAtMs < STALE_FLUSH_MS) {
      return;
    }
    state.flushScheduledAtMs = now;
    this.flushes.schedule(() => this.flush(identifier, state, policy), waitUntil);
  }

  private async flush(identifier: string, state: KeyState, policy: RateLimitPolicy): Promise<void> {
    const count = state.pending;
    state.pending = 0;
    state.flushScheduledAtMs = undefined;
    if (count === 0) return;
    state.inflight += count;
    try {
      const result = await this.ratelimit(policy).limit(identifier, { rate: count });
      await result.pending;
      if (result.reason !== "timeout") this.remember(identifier, result, state, state.policy);
    } catch {
      // Redis unreachable: the local count goes stale and the next request asks Redis itself.
    } finally {
      state.inflight -= count;
    }
  }
}

function policyName(policy: RateLimitPolicy): string {
  return `${policy.limit}/${policy.windowSeconds}`;
}

/** Units kept back from counting ahead: near the limit every request asks Redis. */
function marginOf(policy: RateLimitPolicy): number {
  return Math.ceil(policy.limit * 0.02);
}
