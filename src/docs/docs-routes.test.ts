/** The docs page's security headers, through the app with fakes. */
import { describe, expect, it } from "vitest";
import { fakeServices } from "../../test/support/fake-services";
import { createApp } from "../app";
import { DOCS_CSP, SWAGGER_UI_VERSION } from "./docs-routes";

const app = createApp(() => fakeServices().services);

function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp.split(";").map((d) => {
      const [name = "", ...values] = d.trim().split(/\s+/);
      return [name, values];
    }),
  );
}

describe("/docs", () => {
  it("carries a CSP that keeps scripts and styles to this origin, and the other headers", async () => {
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    const csp = directives(res.headers.get("content-security-policy") ?? "");
    expect(csp.get("script-src")).toEqual(["'self'"]);
    expect(csp.get("style-src")).toEqual(["'self'"]);
    expect(csp.get("connect-src")).toEqual(["'self'"]);
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    expect(csp.get("object-src")).toEqual(["'none'"]);
    expect(res.headers.get("content-security-policy")).toBe(DOCS_CSP);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    // With script-src 'self' an inline script would not run: the page must have none.
    expect(await res.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it("serves the start-up script and Swagger UI's files with the same headers", async () => {
    for (const path of [
      "/docs/swagger-init.js",
      `/docs/assets/${SWAGGER_UI_VERSION}/swagger-ui-bundle.js`,
      `/docs/assets/${SWAGGER_UI_VERSION}/swagger-ui.css`,
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("content-security-policy"), path).toBe(DOCS_CSP);
    }
    const init = await (await app.request("/docs/swagger-init.js")).text();
    expect(init).toContain('url: "/openapi.json"');
    expect(init).toContain("validatorUrl: null");
  });
});
