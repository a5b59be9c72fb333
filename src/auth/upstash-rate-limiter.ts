/** RateLimiter on `@upstash/ratelimit`: a sliding window of units (requests, events, bytes) per API key, counted ahead locally. */
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { WaitUntil } from "../http/wait-until";
import type { RateLimitDecision, RateLimiter } from "./auth-ports";

export interface RateLimitConfig {
  /** Units (requests, events or bytes) allowed per key per window. */
  limit: number;
  windowSeconds: number;
  /** Redis key prefix; one per budget, so each budget has its own window. */
  prefix?: string;
  /** A key's local count is trusted this long after its last answer from Redis. */
  maxStaleMs?: number;
  /** How long counts admitted locally gather before one call sends them to Redis. */
  flushLingerMs?: number;
}

interface KeyState {
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
 * from the local count, and the counts gathered over `flushLingerMs` go to Redis in one call after
 * the response (`waitUntil`, Ratelimit's `rate`). The request that schedules a flush carries it;
 * counts arriving after its snapshot schedule the next one, so no request waits on another's.
 * Near the limit, on the first request of a key, or when the local count is stale, the request
 * waits for Redis with all its units, so one isolate never exceeds the limit; across isolates the
 * overshoot is at most what they admit between two flushes while above the margin. A request
 * Redis refuses still counts its units there (the library adds them before it compares), so a
 * sender over its budget waits for the window to slide rather than retrying at once.
 * The counting-ahead wrapper is written here because the library's only cached limiter
 * (`cachedFixedWindow`) is a fixed window.
 */
export class UpstashRateLimiter implements RateLimiter {
  private readonly ratelimit: Ratelimit;
  private readonly states = new Map<string, KeyState>();
  private readonly margin: number;
  private readonly maxStaleMs: number;
  private readonly flushLingerMs: number;
  private readonly windowSeconds: number;
  private readonly limitPerWindow: number;
  /** Until when Redis is not asked after a failure (the breaker is open), epoch ms. */
  private redisDownUntilMs = 0;
  /** Fixed windows counted in this isolate while the breaker is open. */
  private readonly localWindows = new Map<string, { startMs: number; count: number }>();

  /** Build once per isolate: the local counts and the library's blocked-key cache live in it. */
  constructor(
    redis: Redis,
    config: RateLimitConfig,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.ratelimit = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(config.limit, `${config.windowSeconds} s`),
      prefix: config.prefix ?? "ratelimit:key",
      analytics: false,
      // Fail open after 1 s: a slow Redis must not take scoring down with it.
      timeout: 1_000,
    });
    this.margin = Math.ceil(config.limit * 0.02);
    this.windowSeconds = config.windowSeconds;
    this.limitPerWindow = config.limit;
    this.maxStaleMs = config.maxStaleMs ?? 1_000;
    this.flushLingerMs = config.flushLingerMs ?? 50;
  }

  async limit(identifier: string, waitUntil: WaitUntil, units = 1): Promise<RateLimitDecision> {
    const now = this.nowMs();
    if (now < this.redisDownUntilMs) return this.limitLocally(identifier, units, now);
    const state = this.states.get(identifier);
    if (
      state &&
      now - state.syncedAtMs <= this.maxStaleMs &&
      estimate(state) - units >= this.margin
    ) {
      state.pending += units;
      const decision = {
        allowed: true,
        limit: state.limit,
        remaining: estimate(state),
        resetAtMs: state.resetAtMs,
        windowSeconds: this.windowSeconds,
      };
      this.scheduleFlush(identifier, state, waitUntil);
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
      result = await this.ratelimit.limit(identifier, { rate: sent });
    } catch (err) {
      return this.redisFailed(identifier, sent, now, String(err));
    } finally {
      if (state) state.inflight -= sent;
    }
    waitUntil(result.pending);
    if (result.reason === "timeout") return this.redisFailed(identifier, sent, now, "timeout");
    const next = this.remember(identifier, result, state);
    return {
      allowed: result.success,
      limit: result.limit,
      remaining: Math.max(0, estimate(next)),
      resetAtMs: result.reset,
      windowSeconds: this.windowSeconds,
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
  ): RateLimitDecision {
    this.redisDownUntilMs = nowMs + BREAKER_OPEN_MS;
    console.error(
      JSON.stringify({
        level: "warn",
        msg: "rate limit check failed; counting in this isolate until Redis answers again",
        retryInMs: BREAKER_OPEN_MS,
        error,
      }),
    );
    return this.limitLocally(identifier, units, nowMs);
  }

  private limitLocally(identifier: string, units: number, nowMs: number): RateLimitDecision {
    const windowMs = this.windowSeconds * 1000;
    const startMs = nowMs - (nowMs % windowMs);
    let window = this.localWindows.get(identifier);
    if (window === undefined || window.startMs !== startMs) {
      if (this.localWindows.size >= MAX_KEYS) this.localWindows.clear();
      window = { startMs, count: 0 };
      this.localWindows.set(identifier, window);
    }
    const allowed = window.count + units <= this.limitPerWindow;
    if (allowed) window.count += units;
    return {
      allowed,
      limit: this.limitPerWindow,
      remaining: Math.max(0, this.limitPerWindow - window.count),
      resetAtMs: startMs + windowMs,
      windowSeconds: this.windowSeconds,
    };
  }

  private remember(
    identifier: string,
    result: { limit: number; remaining: number; reset: number },
    previous: KeyState | undefined,
  ): KeyState {
    const existing = previous ?? this.states.get(identifier);
    const state: KeyState = existing ?? {
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
    if (!existing) {
      if (this.states.size >= MAX_KEYS) this.states.clear();
      this.states.set(identifier, state);
    }
    return state;
  }

  /** Schedules one call that sends the counts admitted locally, unless one is already waiting. */
  private scheduleFlush(identifier: string, state: KeyState, waitUntil: WaitUntil): void {
    const now = this.nowMs();
    if (state.flushScheduledAtMs !== undefined && now - state.flushScheduledAtMs < STALE_FLUSH_MS) {
      return;
    }
    state.flushScheduledAtMs = now;
    waitUntil(this.flushAfterLinger(identifier, state));
  }

  private async flushAfterLinger(identifier: string, state: KeyState): Promise<void> {
    if (this.flushLingerMs > 0) await new Promise((r) => setTimeout(r, this.flushLingerMs));
    const count = state.pending;
    state.pending = 0;
    state.flushScheduledAtMs = undefined;
    if (count === 0) return;
    state.inflight += count;
    try {
      const result = await this.ratelimit.limit(identifier, { rate: count });
      await result.pending;
      if (result.reason !== "timeout") this.remember(identifier, result, state);
    } catch {
      // Redis unreachable: the local count goes stale and the next request asks Redis itself.
    } finally {
      state.inflight -= count;
    }
  }
}
