/**
 * API keys, roles, rate limits and tenant CORS inside workerd, against the real Upstash REST
 * server and Redis. No model is loaded here (admin listing and the bundled model's metadata only).
 */

import { exports } from "cloudflare:workers";
import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { apiKeyRedisKey, hashApiKey } from "#core/api-keys";
import type { AppEnv } from "../../src/app-env";
import { requireKey } from "../../src/auth/require-key";
import { corsPreflight, requireTenantOrigin } from "../../src/auth/tenant-cors";
import { handleError } from "../../src/http/errors";
import { createKey, type ErrorJson, redis, testApp, uniqueTenant } from "./support";

const worker = (exports as unknown as { default: Fetcher }).default;

describe("API keys", () => {
  const app = testApp();

  it("asks for a Bearer key when none is sent", async () => {
    const res = await app.fetch("/v1/models");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe("UNAUTHENTICATED");
    expect(body.error.message).toContain("Authorization: Bearer");
    expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  });

  it("lets a publishable key (one with origins) send events only, whatever roles its record holds", async () => {
    const tenant = uniqueTenant("publishable");
    const key = await createKey(tenant, ["ingest", "read", "admin"], ["https://shop.example"]);
    const res = await app.fetch("/v1/models", { key });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(
      /publishable .* only send events/,
    );
    const server = await createKey(tenant, ["admin"]);
    expect((await app.fetch("/v1/models", { key: server })).status).toBe(200);
  });

  it("rejects other schemes, malformed tokens and unknown keys", async () => {
    for (const authorization of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-driftline-key"]) {
      const res = await app.fetch("/v1/models", { headers: { authorization } });
      expect(res.status, authorization).toBe(401);
    }
    const res = await app.fetch("/v1/models", { key: `dl_${"A".repeat(43)}` });
    expect(res.status).toBe(401);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/not valid/);
  });

  it("checks auth before the body, so anonymous callers learn nothing about schemas", async () => {
    const res = await app.fetch("/v1/score", { json: { nonsense: true } });
    expect(res.status).toBe(401);
  });

  it("stores only the hash and accepts the key through it", async () => {
    const tenant = uniqueTenant("hash");
    const key = await createKey(tenant, ["admin"]);
    const stored = (await redis().get(apiKeyRedisKey(await hashApiKey(key)))) as Record<
      string,
      unknown
    >;
    expect(stored).toMatchObject({ tenant, roles: ["admin"] });
    expect(JSON.stringify(stored)).not.toContain(key);
    expect((await app.fetch("/v1/models", { key })).status).toBe(200);
  });

  it("answers 403 naming the role a route needs", async () => {
    const tenant = uniqueTenant("roles");
    const scoreOnly = await createKey(tenant, ["score"]);
    const ingestOnly = await createKey(tenant, ["ingest"]);
    let res = await app.fetch("/v1/models", { key: scoreOnly });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/needs the "read" role/);
    res = await app.fetch("/v1/models/conversion/promote", {
      key: scoreOnly,
      json: { version: "1" },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/needs the "admin" role/);
    res = await app.fetch("/v1/score", { key: ingestOnly, json: { features: {} } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorJson).error.code).toBe("FORBIDDEN");
  });

  it("stops accepting a deleted key once the isolate's cache expires", async () => {
    const short = testApp({ API_KEY_CACHE_TTL_MS: 0 });
    const key = await createKey(uniqueTenant("revoke"), ["admin"]);
    expect((await short.fetch("/v1/models", { key })).status).toBe(200);
    await redis().del(apiKeyRedisKey(await hashApiKey(key)));
    expect((await short.fetch("/v1/models", { key })).status).toBe(401);
  });

  it("works through the deployed entry point too", async () => {
    const key = await createKey(uniqueTenant("entry"), ["admin"]);
    const res = await worker.fetch("http://driftline.test/v1/models", {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { models: { name: string }[] };
    expect(body.models.map((m) => m.name)).toContain("conversion");
  });
});

/**
 * The sliding window of @upstash/ratelimit weighs the previous fixed window's count by how much
 * of it still overlaps, so a run of requests that crosses a window edge is admitted slightly more
 * than the limit. Tests that count exactly start where at least `needMs` of the window is left.
 */
async function awayFromWindowEdge(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe("rate limits", () => {
  it("allows RATE_LIMIT_REQUESTS per window per key, then answers 429 with Retry-After", async () => {
    const app = testApp({ RATE_LIMIT_REQUESTS: 3, RATE_LIMIT_WINDOW_SECONDS: 30 });
    const key = await createKey(uniqueTenant("limit"), ["admin"]);
    await awayFromWindowEdge(30_000, 10_000);
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.fetch("/v1/models", { key });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-policy")).toBe('"requests";q=3;w=30');
      remaining.push(res.headers.get("ratelimit"));
    }
    expect(remaining.map((r) => r?.replace(/;t=\d+$/, ""))).toEqual([
      '"requests";r=2',
      '"requests";r=1',
      '"requests";r=0',
    ]);
    for (const r of remaining) {
      const t = Number(/;t=(\d+)$/.exec(r ?? "")?.[1]);
      expect(t).toBeGreaterThanOrEqual(0);
      expect(t).toBeLessThanOrEqual(30);
    }
    const res = await app.fetch("/v1/models", { key });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(res.headers.get("ratelimit")).toMatch(/^"requests";r=0;t=\d+$/);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe("RATE_LIMITED");
    expect(body.error.message).toMatch(/retry after \d+ s/);

    // Limits are per key: another key of the same tenant is unaffected.
    const other = await createKey(uniqueTenant("limit"), ["admin"]);
    expect((await app.fetch("/v1/models", { key: other })).status).toBe(200);
  });
});

describe("tenant CORS", () => {
  // A browser-facing route as the events routes mount it: preflight, key, then origin check.
  function corsApp() {
    const { services } = testApp({ TENANT_ORIGINS_CACHE_TTL_MS: 0 });
    const app = new OpenAPIHono<AppEnv>();
    app.use("*", async (c, next) => {
      c.set("requestId", "test");
      c.set("services", services);
      await next();
    });
    app.use("/browser/*", corsPreflight({ methods: ["POST"] }));
    app.post("/browser/events", requireKey("ingest"), requireTenantOrigin(), (c) =>
      c.json({ tenant: c.var.auth.tenant }, 202),
    );
    app.onError(handleError);
    return app;
  }

  it("answers preflights without a key and lets only the tenant's origins through", async () => {
    const app = corsApp();
    const tenant = uniqueTenant("cors");
    const key = await createKey(tenant, ["ingest"], ["https://shop.example"]);

    const preflight = await app.request("/browser/events", {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/Authorization/);

    const post = (origin?: string) =>
      app.request("/browser/events", {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, ...(origin ? { origin } : {}) },
      });
    const allowed = await post("https://shop.example");
    expect(allowed.status).toBe(202);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(allowed.headers.get("vary")).toMatch(/Origin/);

    const denied = await post("https://evil.example");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
    expect(((await denied.json()) as ErrorJson).error.message).toMatch(
      /evil\.example is not allowed/,
    );

    // Server-to-server calls carry no Origin and are not subject to CORS.
    expect((await post()).status).toBe(202);
  });
});

describe("OpenAPI", () => {
  it("documents the scoring and admin routes with bearer security", async () => {
    const doc = (await (await worker.fetch("http://driftline.test/openapi.json")).json()) as {
      paths: Record<
        string,
        Record<string, { security?: unknown[]; responses: Record<string, unknown> }>
      >;
      components: { securitySchemes: Record<string, { scheme: string }> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/score",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/versions/{version}",
        "/v1/models/{name}/promote",
      ]),
    );
    expect(doc.components.securitySchemes.bearerAuth?.scheme).toBe("bearer");
    expect(doc.paths["/v1/score"]?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(
      Object.keys(doc.paths["/v1/models/{name}/versions/{version}"]?.put?.responses ?? {}),
    ).toEqual(expect.arrayContaining(["201", "400", "409", "413"]));
  });
});
