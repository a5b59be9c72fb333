/** Runs the background flushes scheduled within one linger together, so their Redis commands share one request. */
import type { WaitUntil } from "../http/wait-until";

/** A scheduled round older than this is presumed lost with its request; the next one replaces it. */
const STALE_ROUND_MS = 10_000;

/**
 * The rate limiters (requests, events, bytes) each send their locally admitted counts to Redis
 * after the response. Scheduled separately, every budget of every key made a Redis request of its
 * own (one `fetch` each, the largest CPU cost of a single-event request). Here the flushes due
 * within `lingerMs` run in the same tick, so `@upstash/redis`' auto-pipelining sends their
 * commands in one HTTP request. The request that opens a round keeps it alive (`waitUntil`);
 * later ones join it.
 *
 * @example
 * const flushes = new CoalescedFlushes(250);
 * flushes.schedule(() => limiter.flush("key_1"), (p) => ctx.waitUntil(p));
 */
export class CoalescedFlushes {
  private queued: (() => Promise<void>)[] = [];
  private openedAtMs: number | undefined;

  constructor(
    readonly lingerMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  schedule(flush: () => Promise<void>, waitUntil: WaitUntil): void {
    this.queued.push(flush);
    const now = this.nowMs();
    if (this.openedAtMs !== undefined && now - this.openedAtMs < STALE_ROUND_MS) return;
    this.openedAtMs = now;
    waitUntil(this.runAfterLinger());
  }

  private async runAfterLinger(): Promise<void> {
    if (this.lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, this.lingerMs));
    const flushes = this.queued;
    this.queued = [];
    this.openedAtMs = undefined;
    await Promise.all(flushes.map((flush) => flush().catch(() => undefined)));
  }
}
