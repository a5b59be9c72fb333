/**
 * The console's walk-through in a real browser (Debian's Chromium through playwright-core)
 * against the real local stack: `npm run demo`'s stream (scores, website and CAPI events,
 * purchases labelling the predictions, then drift) goes through the public API into a real
 * stream processor, and every page must then show something: metrics, drift with its histogram,
 * performance with AUC, log loss and the calibration plot, alerts, retraining requests, webhooks
 * and the settings an admin changes through the page (CSRF-protected). Screenshots of every page
 * land in test/artifacts/walkthrough-*.png.
 *
 * The processor runs with a 1 s attribution window and 1-minute performance windows so labelled
 * windows close within the test (the defaults, 7 days and 1 hour, would take that long).
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import pino from "pino";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDemo } from "../../scripts/demo";
import { migrate } from "../../scripts/migrate";
import { loadStreamConfig } from "../../stream-processor/config";
import { type StreamProcessor, startStreamProcessor } from "../../stream-processor/main";
import { launchChromium, newKey, shot, signIn, WORKER_URL } from "../support/console-browser";
import { waitFor } from "../support/integration-env";
import { STACK_DATABASE_URL, stackProcessorEnv } from "../support/local-stack";

const DATABASE_URL = STACK_DATABASE_URL;
const suffix = randomUUID().slice(0, 8);
const TENANT = `e2e-walk-${suffix}`;

let browser: Browser;
let processor: StreamProcessor | undefined;
let db: pg.Pool;
let key: string;

/** One website event at the current time: moves the tenant's watermark so windows close. */
async function heartbeat(i: number): Promise<void> {
  const res = await fetch(`${WORKER_URL}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({
      event_name: "PageView",
      event_time: Date.now() - 500,
      event_id: `beat-${suffix}-${i}`,
      event_source_url: "https://shop.example/",
      user_data: { client_ip_address: "203.0.113.7", client_user_agent: "Mozilla/5.0 demo" },
    }),
  });
  expect(res.status).toBe(202);
}

async function count(sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql, [TENANT])).rows[0]?.n ?? 0);
}

async function openPage(page: Page, name: string): Promise<void> {
  await page.click(`#nav a[href='#/${name}']`);
  await page.waitForSelector(`#view [data-page=${name}]`);
  expect(await page.locator("#view .error-state").count(), name).toBe(0);
}

beforeAll(async () => {
  await migrate({ databaseUrl: DATABASE_URL });
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  await db.query("INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", [TENANT]);
  key = await newKey(TENANT, ["admin", "score", "ingest", "read"]);
  processor = await startStreamProcessor(
    loadStreamConfig(
      stackProcessorEnv(`driftline-walkthrough-${suffix}`, {
        STREAM_ALLOWED_LATENESS_MS: "0",
        MONITORING_WINDOW_SIZE: "800",
        MONITORING_WINDOW_STRIDE: "100",
        MONITORING_WINDOW_MIN_SAMPLE: "300",
        MONITORING_ATTRIBUTION_WINDOW_MS: "1000",
        MONITORING_PERFORMANCE_WINDOW_MS: "60000",
        MONITORING_PERFORMANCE_MIN_SAMPLE: "50",
        MONITORING_RETRAIN_PSI_CONSECUTIVE: "2",
        LOG_LEVEL: "warn",
      }),
    ),
    { log: pino({ level: "silent" }) },
  );
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await processor?.stop();
  await db?.end();
});

describe("the console after npm run demo", () => {
  it("shows something on every page", async () => {
    // The processor may still be joining its group (it starts at the topics' end): keep sending
    // fresh events until it counts one.
    let beat = 0;
    await waitFor(
      "the processor to count the heartbeat",
      async () => {
        await heartbeat(beat++);
        await new Promise((r) => setTimeout(r, 1_500));
        return (
          (await count(
            "SELECT coalesce(sum(event_count), 0) AS n FROM metric_windows WHERE tenant_id = $1",
          )) > 0
        );
      },
      90_000,
    );
    await runDemo({
      baseUrl: WORKER_URL,
      key,
      visitorsPerPhase: 700,
      pauseMs: 300,
      log: () => undefined,
    });
    await waitFor(
      "drift, performance results and an alert",
      async () => {
        await heartbeat(beat++);
        await new Promise((r) => setTimeout(r, 2_000));
        const [drift, perf, alerts] = await Promise.all([
          count("SELECT count(*) AS n FROM drift_results WHERE tenant_id = $1"),
          count("SELECT count(*) AS n FROM performance_results WHERE tenant_id = $1"),
          count("SELECT count(*) AS n FROM alerts WHERE tenant_id = $1"),
        ]);
        return drift > 0 && perf > 0 && alerts > 0;
      },
      240_000,
    );
    // A rejected event, so the overview has one to show.
    await fetch(`${WORKER_URL}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ event_name: "Purchase", event_time: "not a time" }),
    });

    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await signIn(context, key);

    await page.waitForSelector("#view [data-page=overview] .uplot canvas");
    const rejected = page.locator(".stat", { hasText: "Rejected events" }).locator(".stat-value");
    await waitFor(
      "the rejected event on the overview",
      async () => (await rejected.textContent()) !== "0",
      15_000,
    );
    expect(
      Number((await page.textContent(".stat:first-child .stat-value"))?.replace(/,/g, "")),
    ).toBeGreaterThan(0);
    await shot(page, "walkthrough-overview");

    await openPage(page, "models");
    await shot(page, "walkthrough-models");

    await openPage(page, "drift");
    await page.waitForSelector("#view [data-page=drift] .uplot canvas", { timeout: 15_000 });
    expect(await page.locator("#view [data-page=drift] .empty").count()).toBe(0);
    await shot(page, "walkthrough-drift");

    await openPage(page, "performance");
    await page.waitForSelector("#view [data-page=performance] .uplot canvas", { timeout: 15_000 });
    const auc = await page
      .locator(".stat", { hasText: "AUC" })
      .locator(".stat-value")
      .textContent();
    expect(Number(auc)).toBeGreaterThan(0.5);
    const logLoss = await page
      .locator(".stat", { hasText: "Log loss" })
      .locator(".stat-value")
      .textContent();
    expect(Number(logLoss)).toBeGreaterThan(0);
    expect(await page.textContent("#view")).toContain("Calibration");
    // Three charts: AUC over time, log loss over time, calibration.
    expect(await page.locator("#view [data-page=performance] .uplot").count()).toBe(3);
    await shot(page, "walkthrough-performance");

    await openPage(page, "alerts");
    await page.waitForSelector("button[data-action=acknowledge]", { timeout: 15_000 });
    await shot(page, "walkthrough-alerts");

    await openPage(page, "retraining");
    await shot(page, "walkthrough-retraining");

    await openPage(page, "webhooks");
    await shot(page, "walkthrough-webhooks");

    // Settings: an admin lowers the PSI threshold through the form (the console's CSRF token).
    await openPage(page, "settings");
    await page.fill("[data-setting='drift.psiThreshold']", "0.15");
    await page.fill("[data-setting='alerts.confirmations']", "2");
    await page.click("button[data-action=save-settings]");
    await page.waitForSelector("[data-outcome]");
    expect(await page.textContent("[data-outcome]")).toContain("Saved (revision 1)");
    expect(await page.textContent("[data-effective='drift.psiThreshold']")).toBe("0.15");
    const stored = await db.query<{ overrides: unknown; revision: string }>(
      "SELECT overrides, revision::text FROM monitoring_settings WHERE tenant_id = $1 AND model_name = ''",
      [TENANT],
    );
    expect(stored.rows[0]).toEqual({
      overrides: { drift: { psiThreshold: 0.15 }, alerts: { confirmations: 2 } },
      revision: "1",
    });
    await shot(page, "walkthrough-settings");
    // The cookie alone (no CSRF token) cannot change them.
    const forged = await page.evaluate(async () => {
      const res = await fetch("/v1/settings/monitoring", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ drift: { psiThreshold: 9 } }),
      });
      return res.status;
    });
    expect(forged).toBe(403);
    await context.close();
  }, 600_000);
});
