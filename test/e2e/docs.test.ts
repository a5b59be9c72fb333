import { resolve } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchChromium, WORKER_URL } from "../support/console-browser";

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("the docs page at /docs", () => {
  it("renders Swagger UI and runs a request with no CSP violation", async () => {
    const res = await fetch(`${WORKER_URL}/docs`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-eval");

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Violations are reported to the page as events; collect them before any script runs.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (globalThis as unknown as { cspViolations: string[] }).cspViolations = seen;
      // Node's types have no DOM: the event's fields are named here.
      type Violation = { violatedDirective: string; blockedURI: string; sample: string };
      const doc = (
        globalThis as unknown as {
          document: { addEventListener(type: string, f: (e: Violation) => void): void };
        }
      ).document;
      doc.addEventListener("securitypolicyviolation", (e) => {
        seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
      });
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${WORKER_URL}/docs`);
    await page.waitForSelector(".swagger-ui .opblock", { timeout: 20_000 });
    expect(await page.textContent(".swagger-ui .title")).toContain("Driftline");

    // "Try it out" on /health: the request leaves from the page, under connect-src 'self'.
    const health = page.locator(".opblock", { has: page.locator("[data-path='/health']") });
    await health.locator(".opblock-summary").first().click();
    await health.locator("button.try-out__btn").click();
    await health.locator("button.execute").click();
    await health.locator(".live-responses-table .response-col_status").first().waitFor();
    expect(await health.locator(".live-responses-table").textContent()).toContain("200");
    await page.screenshot({ path: resolve(ARTIFACTS, "docs.png") });

    const violations = await page.evaluate(
      () => (globalThis as unknown as { cspViolations: string[] }).cspViolations,
    );
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
