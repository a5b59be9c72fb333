import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const worker = (exports as unknown as { default: Fetcher }).default;

describe("Worker HTTP basics (workerd)", () => {
  it("answers /health", async () => {
    const res = await worker.fetch("http://driftline.test/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("serves an OpenAPI 3.1 document generated from the routes, and a docs page", async () => {
    const doc = (await (await worker.fetch("http://driftline.test/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/health", "/ready"]));
    const docs = await worker.fetch("http://driftline.test/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('src="/docs/swagger-init.js"');
    const init = await worker.fetch("http://driftline.test/docs/swagger-init.js");
    expect(await init.text()).toContain('url: "/openapi.json"');
  });

  it("serves the docs page's Swagger UI itself: nothing loads from another origin", async () => {
    const page = await (await worker.fetch("http://driftline.test/docs")).text();
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
    const assets = [...page.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]!);
    // Swagger UI's stylesheet and bundle, and the start-up script (no inline script).
    expect(assets).toHaveLength(3);
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    for (const path of assets) {
      const res = await worker.fetch(`http://driftline.test${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/(javascript|css)/);
      const minLength = path.endsWith("swagger-init.js") ? 50 : 100_000;
      expect((await res.text()).length, path).toBeGreaterThan(minLength);
    }
  });

  it("answers unknown routes with the standard error body", async () => {
    const res = await worker.fetch("http://driftline.test/nope", { method: "POST" });
    expect(res.status).toBe(404);
    const body = (await res.json()) as {
      error: { code: string; message: string; requestId: string };
    };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.message).toContain("POST /nope");
    expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  });

  it("reports the model store and Upstash Redis in /ready", async () => {
    const res = await worker.fetch("http://driftline.test/ready");
    const body = (await res.json()) as {
      status: string;
      dependencies: Record<string, { ok: boolean }>;
    };
    expect(Object.keys(body.dependencies).sort()).toEqual(["modelStore", "redis"]);
    expect(body.dependencies.modelStore?.ok).toBe(true);
    // Redis goes through the local Upstash REST server, which `npm test` starts.
    expect(body.dependencies.redis).toMatchObject({ ok: true });
    expect(res.status).toBe(200);
    expect(body.status).toBe("ready");
  });
});
