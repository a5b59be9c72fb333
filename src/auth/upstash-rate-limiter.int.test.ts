/** The counting-ahead sliding-window limiter against the real Upstash REST server and Redis. */
import { randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import type { Redis as CloudflareRedis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import type { RateLimitDecision } from "./auth-ports";
import { UpstashRateLimiter } from "./upstash-rate-limiter";

const redis = new Redis({
  url: process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:8079",
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? "driftline-local-token",
  enableTelemetry: false,
}) as unknown as CloudflareRedis;

/** An isolate's view: its limiter plus the background work its requests left behind. */
function isolate(limit: number) {
  const limiter = new UpstashRateLimiter(redis, { limit, windowSeconds: 60 });
  const background: Promise<unknown>[] = [];
  return {
    limit: (id: string, units?: number) => limiter.limit(id, (p) => background.push(p), units),
    settle: () => Promise.all(background.splice(0)),
  };
}

/**
 * The sliding window of @upstash/ratelimit weighs the previous fixed window's count by how much
 * of it still overlaps, so a run of requests that crosses a window edge is admitted slightly more
 * than the limit. Tests that count exactly start where at least `needMs` of the window is left.
 */
async function awayFromWindowEdge(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe("UpstashRateLimiter", () => {
  it("admits exactly the limit in one isolate, counting ahead between answers", async () => {
    await awayFromWindowEdge(60_000, 15_000);
    const id = `key_${randomUUID()}`;
    const one = isolate(20);
    const decisions: RateLimitDecision[] = [];
    for (let i = 0; i < 30; i++) {
      decisions.push(await one.limit(id));
      // Not awaiting the background flush every time: requests overtake it, as in production.
      if (i % 3 === 0) await one.settle();
    }
    await one.settle();
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(decisions.slice(0, 20).every((d) => d.allowed)).toBe(true);
    expect(decisions.slice(0, 20).map((d) => d.remaining)).toEqual(
      Array.from({ length: 20 }, (_, i) => 19 - i),
    );
    const refused = decisions[25]!;
    expect(refused.allowed).toBe(false);
    expect(refused.resetAtMs).toBeGreaterThan(Date.now());
  });

  it("asks Redis for concurrent first requests, so they cannot overshoot", async () => {
    await awayFromWindowEdge(60_000, 15_000);
    const id = `key_${randomUUID()}`;
    const one = isolate(10);
    const decisions = await Promise.all(Array.from({ length: 25 }, () => one.limit(id)));
    await one.settle();
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
  });

  it("bounds the overshoot across isolates sharing a key", async () => {
    await awayFromWindowEdge(60_000, 15_000);
    const id = `key_${randomUUID()}`;
    const isolates = [isolate(100), isolate(100), isolate(100)];
    let allowed = 0;
    for (let i = 0; i < 300; i++) {
      const target = isolates[i % 3]!;
      if ((await target.limit(id)).allowed) allowed += 1;
      if (i % 10 === 0) await Promise.all(isolates.map((x) => x.settle()));
    }
    await Promise.all(isolates.map((x) => x.settle()));
    expect(allowed).toBeGreaterThanOrEqual(100);
    expect(allowed).toBeLessThanOrEqual(130);
  });

  it("counts units: the second of two 1000-event requests under a 1500-event budget is refused", async () => {
    await awayFromWindowEdge(60_000, 15_000);
    const id = `key_${randomUUID()}`;
    const one = isolate(1_500);
    const first = await one.limit(id, 1_000);
    expect(first).toMatchObject({ allowed: true, limit: 1_500, remaining: 500 });
    await one.settle();
    const second = await one.limit(id, 1_000);
    expect(second.allowed).toBe(false);
    // Another isolate sees the same window.
    expect((await isolate(1_500).limit(id, 600)).allowed).toBe(false);
  });

  it("admits units ahead locally but never past the limit in one isolate", async () => {
    await awayFromWindowEdge(60_000, 15_000);
    const id = `key_${randomUUID()}`;
    const one = isolate(100);
    let admitted = 0;
    for (let i = 0; i < 20; i++) {
      if ((await one.limit(id, 7)).allowed) admitted += 7;
      if (i % 4 === 0) await one.settle();
    }
    await one.settle();
    expect(admitted).toBe(98);
  });

  it("fails open when Redis does not answer", async () => {
    const dead = new Redis({
      url: "http://127.0.0.1:59999",
      token: "x",
      retry: false,
      enableTelemetry: false,
    });
    const limiter = new UpstashRateLimiter(dead as unknown as CloudflareRedis, {
      limit: 1,
      windowSeconds: 60,
    });
    const decision = await limiter.limit("k", () => undefined);
    expect(decision.allowed).toBe(true);
  });

  it("while Redis is down, counts each key in the isolate against the limit instead of admitting all, and asks Redis again later", async () => {
    let now = Date.UTC(2026, 11, 7, 12, 0, 5);
    const down = new Redis({
      url: "http://127.0.0.1:1",
      token: "unused",
      retry: false,
      enableTelemetry: false,
    }) as unknown as CloudflareRedis;
    const limiter = new UpstashRateLimiter(down, { limit: 3, windowSeconds: 60 }, () => now);
    const id = `key_${randomUUID()}`;
    const decisions: RateLimitDecision[] = [];
    for (let i = 0; i < 5; i++) decisions.push(await limiter.limit(id, () => {}));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions[3]).toMatchObject({ limit: 3, remaining: 0 });
    // Another key has its own count; the next window starts afresh.
    expect((await limiter.limit(`${id}-other`, () => {})).allowed).toBe(true);
    now += 60_000;
    expect((await limiter.limit(id, () => {})).allowed).toBe(true);
  });
});
