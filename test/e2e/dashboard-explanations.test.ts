/**
 * The Models page's explanations in a real browser (Debian's Chromium through playwright-core)
 * against the Worker `npm test` starts and its Postgres: recent predictions with their signed
 * reasons and a bar per reason, the top features by mean |contribution| — never another tenant's —
 * and, for a tenant whose predictions carry no reasons, how to turn them on. Screenshots land in
 * test/artifacts/.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/migrate";
import { launchChromium, newKey, shot, signIn } from "../support/console-browser";
import { TEST_DATABASE_URL } from "../support/integration-env";

// The Worker under test reads this database's default schema (scripts/local/worker.ts).
const DATABASE_URL = process.env.DATABASE_URL ?? TEST_DATABASE_URL;
const suffix = randomUUID().slice(0, 8);
const TENANT_A = `e2e-explain-a-${suffix}`;
const TENANT_B = `e2e-explain-b-${suffix}`;
const TENANT_C = `e2e-explain-c-${suffix}`;
const MODEL = "conversion";
const MINUTE = 60_000;

let browser: Browser;
let db: pg.Pool;

async function seedPrediction(
  tenant: string,
  id: string,
  score: number,
  minutesAgo: number,
  reasons: { feature: string; contribution: number }[] | null,
): Promise<void> {
  await db.query(
    `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
       reasons, predicted_at)
     VALUES ($1, $2, $3, '1', $4, '{}', $5::jsonb, $6)`,
    [
      tenant,
      id,
      MODEL,
      score,
      reasons === null ? null : JSON.stringify(reasons),
      new Date(Date.now() - minutesAgo * MINUTE).toISOString(),
    ],
  );
}

beforeAll(async () => {
  await migrate({ databaseUrl: DATABASE_URL });
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  for (const t of [TENANT_A, TENANT_B, TENANT_C]) {
    await db.query("INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", [t]);
  }
  for (let i = 0; i < 6; i++) {
    await seedPrediction(TENANT_A, `a-${suffix}-${i}`, 0.1 + 0.1 * i, 10 + i, [
      { feature: "days_since_last_visit", contribution: -0.9 + 0.05 * i },
      { feature: "cart_value", contribution: 0.34 + 0.02 * i },
      { feature: "sessions_7d", contribution: i % 2 === 0 ? 0.08 : -0.06 },
    ]);
  }
  await seedPrediction(TENANT_B, `b-${suffix}-0`, 0.9, 5, [
    { feature: "secret_feature_of_b", contribution: 2.5 },
  ]);
  await seedPrediction(TENANT_C, `c-${suffix}-0`, 0.4, 5, null);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const t of [TENANT_A, TENANT_B, TENANT_C]) {
    for (const table of ["predictions", "tenants"]) {
      await db?.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [t]).catch(() => {});
    }
  }
  await db?.end();
});

describe("the console's explanations", () => {
  it("shows recent scores with signed reasons and bars, and the top features, of the tenant only", async () => {
    const context = await browser.newContext();
    const page = await signIn(context, await newKey(TENANT_A, ["admin"]));
    await page.click('#nav a[href="#/models"]');
    const panel = `#view [data-panel=explanations][data-model=${MODEL}]`;
    await page.waitForSelector(`${panel} table.recent`, { timeout: 15_000 });
    const text = (await page.textContent(panel)) ?? "";
    // The newest prediction (10 minutes ago, score 0.1) first, its reasons largest first.
    const first = page.locator(`${panel} table.recent tbody tr`).first();
    expect(await first.textContent()).toContain("0.1000");
    const reasons = await first.locator("ul.reasons li").allTextContents();
    expect(reasons).toEqual([
      "days_since_last_visit−0.9000",
      "cart_value+0.3400",
      "sessions_7d+0.0800",
    ]);
    expect(await page.locator(`${panel} table.recent tbody tr`).count()).toBe(6);
    // A bar per reason, right of centre for a positive contribution, left for a negative one.
    const bars = page.locator(`${panel} table.recent .reason-bar .fill`);
    expect(await bars.count()).toBe(18);
    const firstBars = await first
      .locator(".reason-bar .fill")
      .evaluateAll((els) =>
        els.map((e) => ({ cls: e.className, width: e.getBoundingClientRect().width })),
      );
    expect(firstBars.map((b) => b.cls)).toEqual(["fill down", "fill up", "fill up"]);
    expect(firstBars[0]!.width).toBeGreaterThan(firstBars[1]!.width);
    expect(firstBars[1]!.width).toBeGreaterThan(firstBars[2]!.width);
    expect(firstBars[2]!.width).toBeGreaterThan(0);
    // Top features: days_since_last_visit has the largest mean |c| (0.9 … 0.65 → 0.775).
    const features = await page
      .locator(`${panel} table.features tbody tr td:first-child`)
      .allTextContents();
    expect(features).toEqual(["days_since_last_visit", "cart_value", "sessions_7d"]);
    expect(text).toContain("0.7750");
    expect(text).toContain("6 of 6");
    expect(text).not.toContain("secret_feature_of_b");
    await shot(page, "console-explanations");
    await context.close();
  });

  it("says how to log reasons when the tenant's predictions carry none", async () => {
    const context = await browser.newContext();
    const page = await signIn(context, await newKey(TENANT_C, ["admin"]));
    await page.click('#nav a[href="#/models"]');
    const panel = `#view [data-panel=explanations][data-model=${MODEL}]`;
    await page.waitForSelector(`${panel} .empty`, { timeout: 15_000 });
    const text = (await page.textContent(panel)) ?? "";
    expect(text).toContain("No reasons logged for this model");
    expect(text).toContain("PREDICTION_LOG_REASONS=3");
    await shot(page, "console-explanations-off");
    await context.close();
  });
});
