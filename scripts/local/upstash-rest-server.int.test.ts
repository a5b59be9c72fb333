/** The Upstash REST server driven by the real @upstash/redis and ratelimit clients on real Redis. */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadLocalStackConfig } from "./config";
import { createUpstashRestServer, type UpstashRestServer } from "./upstash-rest-server";
import { pingUpstashRest, upstashRestService } from "./upstash-rest-service";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const token = `test-token-${randomUUID()}`;
let server: UpstashRestServer;
let url: string;
let direct: IORedis;
const prefixes: string[] = [];

/** A key prefix of the calling test; its keys are deleted after the test. */
function newPrefix(): string {
  const prefix = `test:upstash-rest:${randomUUID()}:`;
  prefixes.push(prefix);
  return prefix;
}

function client(options: Partial<RedisConfigNodejs> = {}): Redis {
  return new Redis({ url, token, enableTelemetry: false, retry: false, ...options });
}

async function raw(
  path: string,
  body: string | undefined,
  options: {
    method?: string;
    headers?: Record<string, string>;
    auth?: boolean;
    base?: string;
  } = {},
): Promise<{ status: number; contentType: string | null; body: unknown }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${options.base ?? url}${path}`, {
    method: options.method ?? "POST",
    headers,
    body,
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    body: await res.json(),
  };
}

async function keysWithPrefix(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await direct.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

beforeAll(async () => {
  direct = new IORedis(REDIS_URL, { protocol: 2 });
  server = createUpstashRestServer({ redisUrl: REDIS_URL, token, log: () => {} });
  url = await server.listen(0);
});

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) {
    const keys = await keysWithPrefix(prefix);
    if (keys.length > 0) await direct.del(...keys);
  }
});

afterAll(async () => {
  await server?.close();
  direct?.disconnect();
});

describe("@upstash/redis through the local server", () => {
  it("sets with ex and nx options and reads back", async () => {
    const p = newPrefix();
    const redis = client({ enableAutoPipelining: false });
    expect(await redis.set(`${p}greeting`, "hello", { ex: 60 })).toBe("OK");
    expect(await redis.set(`${p}greeting`, "other", { nx: true })).toBeNull();
    expect(await redis.get(`${p}greeting`)).toBe("hello");
    const ttl = await redis.ttl(`${p}greeting`);
    expect(ttl).toBeGreaterThan(55);
    expect(ttl).toBeLessThanOrEqual(60);
    expect(await redis.set(`${p}fresh`, "v", { nx: true, px: 5000 })).toBe("OK");
    expect(await direct.pttl(`${p}fresh`)).toBeGreaterThan(4000);
    expect(await redis.get(`${p}missing`)).toBeNull();
  });

  it("increments counters and reports command errors", async () => {
    const p = newPrefix();
    const redis = client({ enableAutoPipelining: false });
    expect(await redis.incr(`${p}counter`)).toBe(1);
    expect(await redis.incrby(`${p}counter`, 41)).toBe(42);
    await redis.set(`${p}text`, "not a number");
    await expect(redis.incr(`${p}text`)).rejects.toThrow(/ERR value is not an integer/);
  });

  it("stores hashes and returns them from HGETALL", async () => {
    const p = newPrefix();
    const redis = client();
    expect(await redis.hset(`${p}model`, { name: "m1", version: 3, active: true })).toBe(3);
    expect(await redis.hgetall(`${p}model`)).toEqual({ name: "m1", version: 3, active: true });
    expect(await direct.hgetall(`${p}model`)).toEqual({
      name: "m1",
      version: "3",
      active: "true",
    });
    expect(await redis.hget(`${p}model`, "name")).toBe("m1");
    expect(await redis.hgetall(`${p}nothing`)).toBeNull();
  });

  it("round-trips JSON values", async () => {
    const p = newPrefix();
    const redis = client();
    const value = { tenant: "acme", weights: [0.25, -1.5e-3], nested: { note: "é ✓", none: null } };
    await redis.set(`${p}json`, value);
    expect(await redis.get(`${p}json`)).toEqual(value);
    expect(JSON.parse((await direct.get(`${p}json`)) ?? "")).toEqual(value);
  });

  it("runs pipelines, keeping per-command errors", async () => {
    const p = newPrefix();
    const redis = client();
    const pipeline = redis.pipeline();
    pipeline.set(`${p}a`, 1);
    pipeline.incr(`${p}a`);
    pipeline.get(`${p}a`);
    pipeline.hset(`${p}h`, { f: "v" });
    pipeline.hgetall(`${p}h`);
    pipeline.get(`${p}missing`);
    expect(await pipeline.exec()).toEqual(["OK", 2, 2, 1, { f: "v" }, null]);

    const failing = redis.pipeline();
    failing.set(`${p}s`, "text");
    failing.incr(`${p}s`);
    failing.get(`${p}s`);
    const results = await failing.exec({ keepErrors: true });
    expect(results[1]?.error).toMatch(/ERR value is not an integer/);
    expect(results[2]?.result).toBe("text");

    const thrown = redis.pipeline();
    thrown.incr(`${p}s`);
    await expect(thrown.exec()).rejects.toThrow(/Command 1 \[ incr \] failed: ERR value/);
  });

  it("runs multi/exec atomically", async () => {
    const p = newPrefix();
    const redis = client();
    const tx = redis.multi();
    tx.set(`${p}a`, "v");
    tx.incr(`${p}c`);
    tx.incr(`${p}c`);
    tx.get(`${p}a`);
    expect(await tx.exec()).toEqual(["OK", 1, 2, "v"]);

    // Concurrent transactions on the server's shared connection must not interleave: each one's
    // GET sees its own INCR.
    const pairs = await Promise.all(
      Array.from({ length: 40 }, () => {
        const t = redis.multi();
        t.incr(`${p}n`);
        t.get(`${p}n`);
        return t.exec<[number, number]>();
      }),
    );
    for (const [incremented, read] of pairs) expect(read).toBe(incremented);
    expect(new Set(pairs.map(([n]) => n)).size).toBe(40);
  });

  it("discards a transaction with a queueing error as a whole", async () => {
    const p = newPrefix();
    const res = await raw("/multi-exec", JSON.stringify([["SET", `${p}a`, "x"], ["GET"]]));
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(/EXECABORT.*wrong number of arguments/);
    expect(await direct.exists(`${p}a`)).toBe(0);
  });

  it("auto-pipelines concurrent commands into one request", async () => {
    const p = newPrefix();
    const redis = client();
    const keys = Array.from({ length: 50 }, (_, i) => `${p}k${i}`);
    await Promise.all(keys.map((key, i) => redis.set(key, `v${i}`)));
    const counter = () => (redis as unknown as { pipelineCounter: number }).pipelineCounter;
    const before = counter();
    const values = await Promise.all(keys.map((key) => redis.get(key)));
    expect(values).toEqual(keys.map((_, i) => `v${i}`));
    expect(counter() - before).toBe(1);
  });

  it("is binary-safe and keeps unicode intact", async () => {
    const p = newPrefix();
    const redis = client();
    const text = "héllo wörld ✓ 𝄞 日本語 \u0000 end";
    await redis.set(`${p}unicode`, text);
    expect(await redis.get(`${p}unicode`)).toBe(text);
    expect(await direct.getBuffer(`${p}unicode`)).toEqual(Buffer.from(text, "utf8"));

    // Bytes that are not UTF-8 come back exactly, base64-encoded, at top level and in arrays.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await direct.set(`${p}bin`, bytes);
    await direct.hset(`${p}binhash`, bytes, bytes);
    const headers = { "upstash-encoding": "base64" };
    expect((await raw("/", JSON.stringify(["GET", `${p}bin`]), { headers })).body).toEqual({
      result: bytes.toString("base64"),
    });
    expect(
      (await raw("/pipeline", JSON.stringify([["HGETALL", `${p}binhash`]]), { headers })).body,
    ).toEqual([{ result: [bytes.toString("base64"), bytes.toString("base64")] }]);

    // A stored "OK" and nested replies (EVAL) decode to the same strings.
    await redis.set(`${p}ok`, "OK");
    expect(await redis.get(`${p}ok`)).toBe("OK");
    expect(await redis.eval("return {1, 'OK', {2, 'é'}}", [], [])).toEqual([1, "OK", [2, "é"]]);
  });

  it("scans keys by pattern across cursors", async () => {
    const p = newPrefix();
    const redis = client();
    const expected = Array.from({ length: 25 }, (_, i) => `${p}scan:${i}`);
    await direct.mset(Object.fromEntries(expected.map((key) => [key, "1"])));
    const found = new Set<string>();
    let cursor = "0";
    let rounds = 0;
    do {
      // COUNT is per round of the whole keyspace: a shared Redis may hold hundreds of thousands of
      // other keys, so each round looks at many to keep the number of rounds small.
      const [next, keys] = await redis.scan(cursor, { match: `${p}scan:*`, count: 1000 });
      for (const key of keys) found.add(key);
      cursor = String(next);
      rounds += 1;
    } while (cursor !== "0" && rounds < 10_000);
    expect([...found].sort()).toEqual([...expected].sort());
  });

  it("runs scripts with Upstash-only shebang flags under the client's sha", async () => {
    const p = newPrefix();
    const redis = client({ enableAutoPipelining: false });
    // A unique script, so neither this server nor Redis has seen it.
    const script = `#!lua flags=allow-key-locking\n-- ${randomUUID()}\nreturn redis.call('INCR', KEYS[1])`;
    const sha = sha1(script);
    await expect(redis.evalsha(sha, [`${p}n`], [])).rejects.toThrow(/NOSCRIPT/);
    expect(await redis.eval(script, [`${p}n`], [])).toBe(1);
    expect(await redis.evalsha(sha, [`${p}n`], [])).toBe(2);
    expect(await redis.scriptLoad(script)).toBe(sha);
    expect(await redis.scriptExists(sha)).toEqual([1]);
  });

  it("answers path-style commands", async () => {
    const p = newPrefix();
    expect((await raw(`/set/${p}path/v1?EX=30`, undefined, { method: "GET" })).body).toEqual({
      result: "OK",
    });
    expect(await direct.ttl(`${p}path`)).toBeGreaterThan(25);
    expect((await raw(`/get/${p}path`, undefined, { method: "GET" })).body).toEqual({
      result: "v1",
    });
    await raw(`/set/${encodeURIComponent(`${p}posted`)}`, "posted body ✓");
    expect(await direct.get(`${p}posted`)).toBe("posted body ✓");
  });
});

describe("@upstash/ratelimit through the local server", () => {
  // One-hour windows keep a window boundary from falling inside the test.
  it("limits with a sliding window shared by two instances", async () => {
    const p = newPrefix();
    const redis = client();
    const limiter = () =>
      new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(3, "1 h"), prefix: `${p}rl` });
    const first = limiter();
    const second = limiter();
    const start = Date.now();
    for (let i = 0; i < 3; i++) {
      const result = await first.limit("user-1");
      expect(result.success).toBe(true);
      expect(result.limit).toBe(3);
      expect(result.remaining).toBe(2 - i);
    }
    const blocked = await first.limit("user-1");
    expect(blocked.success).toBe(false);
    expect(blocked.remaining).toBe(0);
    expect(blocked.reset).toBeGreaterThan(start);
    expect(blocked.reset).toBeLessThanOrEqual(Date.now() + 3_600_000);

    const fromSecond = await second.limit("user-1");
    expect(fromSecond.success).toBe(false);
    expect((await second.getRemaining("user-1")).remaining).toBe(0);
    expect((await second.limit("user-2")).success).toBe(true);
    expect((await keysWithPrefix(`${p}rl`)).length).toBeGreaterThan(0);
  });

  it("limits with a fixed window, also without auto-pipelining", async () => {
    const p = newPrefix();
    const redis = client({ enableAutoPipelining: false });
    const limiter = () =>
      new Ratelimit({ redis, limiter: Ratelimit.fixedWindow(2, "1 h"), prefix: `${p}fw` });
    const first = limiter();
    const second = limiter();
    const start = Date.now();
    expect((await first.limit("key-a")).success).toBe(true);
    expect((await second.limit("key-a")).remaining).toBe(0);
    const blocked = await first.limit("key-a");
    expect(blocked.success).toBe(false);
    const windowMs = 3_600_000;
    expect(blocked.reset).toBe((Math.floor(start / windowMs) + 1) * windowMs);
    expect((await second.limit("key-a")).success).toBe(false);
    expect((await second.getRemaining("key-a")).remaining).toBe(0);
  });
});

describe("protocol errors", () => {
  it("rejects a wrong or missing token with 401 JSON", async () => {
    const wrong = new Redis({ url, token: "wrong-token", retry: false, enableTelemetry: false });
    await expect(wrong.get("anything")).rejects.toThrow(/Unauthorized/);
    const missing = await raw("/", '["PING"]', { auth: false });
    expect(missing.status).toBe(401);
    expect(missing.contentType).toBe("application/json");
    expect(missing.body).toEqual({ error: expect.stringContaining("Authorization: Bearer") });
  });

  it("cannot be driven from a web page: refuses an Origin header, a token in the query and admin commands", async () => {
    const fromPage = await raw("/", '["PING"]', {
      headers: { origin: "https://attacker.example" },
    });
    expect(fromPage.status).toBe(403);
    const queryToken = await raw(`/get/x?_token=${encodeURIComponent(token)}`, undefined, {
      method: "GET",
      auth: false,
    });
    expect(queryToken.status).toBe(401);
    // Harmless ones: should the block ever regress, the test must not wipe or stop the Redis.
    for (const command of [["CONFIG", "GET", "dir"], ["DEBUG", "SLEEP", "0"], ["LASTSAVE"]]) {
      const admin = await raw("/", JSON.stringify(command));
      expect(admin.status).toBe(400);
      expect(admin.body).toEqual({
        error: expect.stringContaining("administers the Redis server"),
      });
    }
    expect((await raw("/", '["PING"]')).body).toEqual({ result: "PONG" });
  });

  it("answers malformed bodies with 400 JSON and keeps serving", async () => {
    const notJson = await raw("/", "{not json");
    expect(notJson.status).toBe(400);
    expect(notJson.contentType).toBe("application/json");
    expect(notJson.body).toEqual({ error: expect.stringMatching(/not valid JSON/) });

    const cases: Array<[string, string, RegExp]> = [
      ["/", "", /body is empty/],
      ["/", '{"command":"GET"}', /must be a JSON array/],
      ["/", "[1, 2]", /command name/],
      ["/", '["SET", "k", null]', /\[2\] must be a string, number or boolean, got null/],
      ["/pipeline", '["GET", "k"]', /command 0 must be a JSON array/],
      ["/multi-exec", "[]", /non-empty JSON array of commands/],
      ["/", '["SUBSCRIBE", "chan"]', /not supported/],
    ];
    for (const [path, body, message] of cases) {
      const res = await raw(path, body);
      expect(res.status, `${path} ${body}`).toBe(400);
      expect((res.body as { error: string }).error).toMatch(message);
    }
    expect((await raw("/", '["PING"]')).body).toEqual({ result: "PONG" });
  });

  it("answers 413 for bodies over the limit and 503 when Redis is down", async () => {
    const small = createUpstashRestServer({
      redisUrl: REDIS_URL,
      token,
      maxBodyBytes: 64,
      log: () => {},
    });
    const down = createUpstashRestServer({
      // Port 1 is closed on a developer machine: every connection attempt is refused.
      redisUrl: "redis://127.0.0.1:1",
      token,
      log: () => {},
    });
    try {
      const smallUrl = await small.listen(0);
      const big = await raw("/", JSON.stringify(["SET", "k", "x".repeat(100)]), { base: smallUrl });
      expect(big.status).toBe(413);
      expect(big.body).toEqual({ error: expect.stringMatching(/exceeds 64 bytes/) });

      const downUrl = await down.listen(0);
      const started = Date.now();
      const res = await raw("/", '["PING"]', { base: downUrl });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: expect.stringMatching(/Redis at .* is unavailable/) });
      expect(Date.now() - started).toBeLessThan(1500);
      const redis = new Redis({ url: downUrl, token, retry: false, enableTelemetry: false });
      await expect(redis.get("k")).rejects.toThrow(/unavailable/);
    } finally {
      await small.close();
      await down.close();
    }
  });
});

describe("upstashRestService", () => {
  it("starts a detached server, reuses it, and stops it", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const stateDir = mkdtempSync(join(tmpdir(), "driftline-upstash-rest-"));
    const config = loadLocalStackConfig({
      ...process.env,
      DRIFTLINE_STATE_DIR: stateDir,
      UPSTASH_REST_PORT: String(port),
      UPSTASH_REDIS_REST_TOKEN: token,
      REDIS_URL,
    });
    const service = upstashRestService(config);
    try {
      expect(await service.isReady()).toBe(false);
      const endpoint = await service.up();
      expect(endpoint).toEqual({ url: `http://127.0.0.1:${port}`, startedHere: true });
      expect(await pingUpstashRest(endpoint.url, token)).toBe(true);
      expect(await pingUpstashRest(endpoint.url, "wrong")).toBe(false);
      expect(await upstashRestService(config).up()).toEqual({ ...endpoint, startedHere: false });
    } finally {
      await service.down();
      rmSync(stateDir, { recursive: true, force: true });
    }
    expect(await service.isReady()).toBe(false);
  });
});
