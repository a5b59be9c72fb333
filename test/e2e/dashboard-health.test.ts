/**
 * The console's Health page in a real browser (Debian's Chromium through playwright-core) against
 * the Worker `npm test` starts and its Postgres: the score, its factors and recommendations, and
 * the tenant's anomalies — never another tenant's. Screenshots land in test/artifacts/.
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
const TENANT_A = `e2e-health-a-${suffix}`;
const TENANT_B = `e2e-health-b-${suffix}`;
const MINUTE = 60_000;

let browser: Browser;
let db: pg.Pool;

async function seedAnomaly(tenant: string, id: string, eventName: string): Promise<void> {
  await db.query(
    `INSERT INTO anomalies (tenant_id, anomaly_id, series_key, metric, dimensions, reason,
       detected_at, expected, lower_bound, upper_bound, observed, score, peak_score)
     VALUES ($1, $2, $3, 'events', $4, 'drop-to-zero', now() - interval '20 minutes',
       3.2, 0, 14, 0, 0.6, 0.7)`,
    [
      tenant,
      id,
      JSON.stringify(["events", "capi", eventName, ""]),
      JSON.stringify({ source: "capi", eventName, campaign: "" }),
    ],
  );
}

beforeAll(async () => {
  await migrate({ databaseUrl: DATABASE_URL });
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  for (const t of [TENANT_A, TENANT_B]) {
    await db.query("INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", [t]);
  }
  await seedAnomaly(TENANT_A, `an-a-${suffix}`, "Purchase");
  await seedAnomaly(TENANT_B, `an-b-${suffix}`, "SecretEventOfB");
  // An hour of CAPI windows with a poor match quality (4.1) for tenant A.
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  for (let m = 1; m <= 30; m++) {
    await db.query(
      `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name,
         campaign, event_count, match_quality_sum, match_quality_count)
       VALUES ($1, 60, $2, 'capi', 'PageView', '', 10, 41, 10)`,
      [TENANT_A, new Date(now - m * MINUTE).toISOString()],
    );
  }
  // The same hour on pixel 1234567890 (A's) and on B's own pixel.
  for (const [tenant, pixel] of [
    [TENANT_A, "1234567890"],
    [TENANT_B, "9999999999"],
  ] as const) {
    await db.query(
      `INSERT INTO pixel_minute_windows (tenant_id, window_start, pixel_id, event_count,
         match_quality_sum, match_quality_count)
       SELECT $1, $2::timestamptz - m * interval '1 minute', $3, 10, 41, 10
       FROM generate_series(1, 30) AS m`,
      [tenant, new Date(now).toISOString(), pixel],
    );
  }
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const t of [TENANT_A, TENANT_B]) {
    for (const table of ["anomalies", "metric_windows", "pixel_minute_windows", "tenants"]) {
      await db?.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [t]).catch(() => {});
    }
  }
  await db?.end();
});

describe("the console's Health page", () => {
  it("shows the score with its factors, the advice and the tenant's own anomalies", async () => {
    const context = await browser.newContext();
    const page = await signIn(context, await newKey(TENANT_A, ["read"]));
    await page.click('#nav a[href="#/health"]');
    await page.waitForSelector("#view [data-page=health]", { timeout: 15_000 });
    const text = await page.textContent("#view");
    // 100 − 35 (an open drop to zero) − 19 (match quality 4.1 against 6).
    expect(text).toContain("46 / 100");
    expect(await page.getAttribute("[data-health]", "data-health")).toBe("critical");
    expect(text).toContain("match quality 4.1, ≥ 6 expected");
    expect(text).toContain("events · Purchase (capi)");
    expect(text).toContain("drop-to-zero");
    expect(text).not.toContain("SecretEventOfB");
    // Per pixel: A's pixel with its 30 minutes of 10 events, never B's.
    const pixelRow = await page.textContent("table.health-pixels tbody tr");
    expect(pixelRow).toContain("1234567890");
    expect(pixelRow).toContain("300");
    expect(text).not.toContain("9999999999");
    await shot(page, "console-health");
    await context.close();
  });
});
