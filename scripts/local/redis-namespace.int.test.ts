/** Per state dir Redis databases against the machine's Redis: claimed once, kept apart, cleared only by their owner. */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import {
  claimRedisDatabase,
  flushRedisDatabase,
  OWNER_KEY,
  redisDatabaseOf,
} from "./redis-namespace";

const REDIS_URL = "redis://127.0.0.1:6379";
const stamp = `${process.pid}-${Date.now()}`;
const stateA = `/tmp/driftline-ns-test-a-${stamp}`;
const stateB = `/tmp/driftline-ns-test-b-${stamp}`;
const claimed: { url: string; stateDir: string }[] = [];

afterAll(async () => {
  for (const { url, stateDir } of claimed) await flushRedisDatabase(url, stateDir).catch(() => {});
});

describe("claimRedisDatabase", () => {
  it("gives each state dir its own database, the same one every time, and flushes only the owner's", async () => {
    const a = await claimRedisDatabase(REDIS_URL, stateA);
    claimed.push({ url: a, stateDir: stateA });
    const b = await claimRedisDatabase(REDIS_URL, stateB);
    claimed.push({ url: b, stateDir: stateB });
    expect(redisDatabaseOf(a)).toBeGreaterThanOrEqual(1);
    expect(redisDatabaseOf(b)).not.toBe(redisDatabaseOf(a));
    expect(await claimRedisDatabase(REDIS_URL, stateA)).toBe(a);

    const redisA = new Redis(a);
    try {
      expect(await redisA.get(OWNER_KEY)).toBe(stateA);
      await redisA.set("apikey:probe", "1");
      // Another state dir cannot clear it, even when handed the URL.
      expect(await flushRedisDatabase(a, stateB)).toBe(false);
      expect(await redisA.get("apikey:probe")).toBe("1");
      expect(await flushRedisDatabase(a, stateA)).toBe(true);
      expect(await redisA.dbsize()).toBe(0);
    } finally {
      redisA.disconnect();
    }
  });

  it("uses a URL that names a database as given", async () => {
    expect(await claimRedisDatabase("redis://127.0.0.1:6379/7", stateA)).toBe(
      "redis://127.0.0.1:6379/7",
    );
  });

  it("says what to do when Redis does not answer", async () => {
    await expect(claimRedisDatabase("redis://127.0.0.1:1", stateA)).rejects.toThrow(
      /does not answer\. Start it .* or set REDIS_URL/,
    );
  });
});
