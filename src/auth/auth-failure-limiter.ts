/** Per-client count of failed authentications, per isolate: a flood of forged keys is refused before Redis. */
import { boundedCache } from "../cache/bounded-cache";
import type { AuthFailureLimiter } from "./auth-ports";

interface Window {
  startMs: number;
  failures: number;
}

/**
 * A fixed window per client address. Clients beyond `maxClients` push out the least recently
 * seen window, so memory stays bounded whatever the flood. Hand-written: the library limiters
 * (@upstash/ratelimit) would cost the Redis round trip this exists to spare.
 */
export class InMemoryAuthFailureLimiter implements AuthFailureLimiter {
  private readonly windows;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly nowMs: () => number;

  constructor(options: {
    maxFailures: number;
    windowMs?: number;
    maxClients?: number;
    nowMs?: () => number;
  }) {
    this.maxFailures = options.maxFailures;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.nowMs = options.nowMs ?? Date.now;
    this.windows = boundedCache<Window>({ maxEntries: this.maxClients, nowMs: this.nowMs });
  }

  retryAfterSeconds(client: string): number | undefined {
    const window = this.current(client);
    if (window === undefined || window.failures < this.maxFailures) return undefined;
    return Math.max(1, Math.ceil((window.startMs + this.windowMs - this.nowMs()) / 1000));
  }

  recordFailure(client: string): void {
    const window = this.current(client);
    if (window !== undefined) {
      window.failures += 1;
      return;
    }
    this.windows.set(client, { startMs: this.nowMs(), failures: 1 });
  }

  private current(client: string): Window | undefined {
    const window = this.windows.get(client);
    if (window === undefined) return undefined;
    if (this.nowMs() - window.startMs >= this.windowMs) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }
}
