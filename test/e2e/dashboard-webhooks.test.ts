/**
 * The console's webhooks page in a real browser (Debian's Chromium through playwright-core)
 * against the Worker under `wrangler dev` and a real receiver (node:http on 127.0.0.1, which local
 * mode accepts): an admin adds an endpoint and sees its secret once, sends a test delivery that
 * the receiver verifies with the `standardwebhooks` library and that secret, sees the attempt in
 * the deliveries list, and deletes the endpoint after confirming. A read key sees the list without
 * the admin actions, and model versions without promotion. Screenshots land in test/artifacts/.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/migrate";
import { launchChromium, newKey, shot, signIn, WORKER_URL } from "../support/console-browser";
import { TEST_DATABASE_URL } from "../support/integration-env";
import {
  type ReceivedDelivery,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../support/webhook-receiver";

// The Worker under test reads this database's default schema (scripts/local/worker.ts).
const DATABASE_URL = process.env.DATABASE_URL ?? TEST_DATABASE_URL;
const suffix = randomUUID().slice(0, 8);
const TENANT = `e2e-console-hooks-${suffix}`;
const READ_TENANT = `e2e-console-hooks-read-${suffix}`;

let browser: Browser;
let receiver: WebhookReceiver;
let db: pg.Pool;
const keys: Record<string, string> = {};

async function signInToWebhooks(context: BrowserContext, key: string): Promise<Page> {
  const page = await signIn(context, key);
  await page.click("#nav a[href='#/webhooks']");
  await page.waitForSelector("#view [data-page=webhooks]");
  return page;
}

/** Collects CSP violations and script errors from the first script on. */
async function watchPage(page: Page): Promise<string[]> {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  return problems;
}

async function received(channel: string): Promise<ReceivedDelivery[]> {
  return (await (await fetch(`${receiver.url}/received/${channel}`)).json()) as ReceivedDelivery[];
}

/** The endpoints table's row for a URL (channels are distinct, so the text is unique). */
const row = (page: Page, url: string) =>
  page.locator("table.webhooks tbody tr", { has: page.locator("code.url", { hasText: url }) });

beforeAll(async () => {
  await migrate({ databaseUrl: DATABASE_URL });
  db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  keys.admin = await newKey(TENANT, ["admin"]);
  keys.readAdmin = await newKey(READ_TENANT, ["admin"]);
  keys.read = await newKey(READ_TENANT, ["read"]);
  receiver = await startWebhookReceiver();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  for (const t of [TENANT, READ_TENANT]) {
    await db?.query("DELETE FROM webhook_endpoints WHERE tenant_id = $1", [t]).catch(() => {});
  }
  await db?.end();
});

describe("the console's webhooks page", () => {
  it("adds an endpoint, shows its secret once, sends a verified test delivery, deletes it", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: WORKER_URL });
    const page = await signInToWebhooks(context, keys.admin!);
    const problems = await watchPage(page);
    await page.waitForSelector("[data-page=webhooks] .empty");
    expect(await page.textContent("#view")).toContain("No webhook endpoints yet");
    await shot(page, "console-webhooks-empty");

    // A URL the rules refuse is answered on the page, and nothing is registered.
    await page.fill("#webhook-url", `http://user:pw@127.0.0.1:1/hooks/refused-${suffix}`);
    await page.click("#webhook-form button[type=submit]");
    await page.waitForSelector("[data-outcome].error-state");
    expect(await page.textContent("[data-outcome]")).toContain("refused");
    expect(await page.locator("#webhook-secret").count()).toBe(0);

    const channel = `ok-${suffix}`;
    const url = `${receiver.url}/hooks/${channel}`;
    await page.fill("#webhook-url", url);
    await page.check("input[name=types][value='dev.driftline.drift.changed']");
    await page.check("input[name=types][value='dev.driftline.performance.degraded']");
    await page.click("#webhook-form button[type=submit]");
    await page.waitForSelector("#webhook-secret");
    const secret = (await page.textContent("#webhook-secret")) ?? "";
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(await page.textContent(".secret-box")).toContain("it is not shown again");
    await page.click("button[data-action=copy-secret]");
    await page.waitForSelector("button[data-action=copy-secret]:text-is('Copied')");
    const clipboard = await page.evaluate(() =>
      (
        globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
      ).navigator.clipboard.readText(),
    );
    expect(clipboard).toBe(secret);
    await row(page, url).waitFor();
    expect(await row(page, url).textContent()).toContain("drift.changed");
    expect(await row(page, url).textContent()).toContain("performance.degraded");
    await shot(page, "console-webhooks-secret");

    // The list never carries it; once dismissed it is gone from the page for good.
    const list = await page.evaluate(async () => (await fetch("/v1/webhooks")).text());
    expect(list).toContain(url);
    expect(list).not.toContain(secret);
    await page.click("button[data-action=dismiss-secret]");
    await page.waitForSelector("#webhook-secret", { state: "detached" });
    await page.reload();
    await row(page, url).waitFor();
    expect(await page.content()).not.toContain(secret);

    // The receiver learns the secret from what the page showed, as a tenant would.
    await fetch(`${receiver.url}/secrets/${channel}`, { method: "PUT", body: secret });
    await row(page, url).locator("button[data-action=test]").click();
    await page.waitForSelector("[data-outcome].notice");
    expect(await page.textContent("[data-outcome]")).toMatch(/delivered: HTTP 204, \d+ ms/);
    const [delivery, ...more] = await received(channel);
    expect(more).toEqual([]);
    expect(delivery?.verified, delivery?.verifyError).toBe(true);
    // Verified here too with the shown secret; a different secret must not verify.
    const event = new Webhook(secret).verify(delivery!.body, delivery!.headers) as { type: string };
    expect(event.type).toBe("dev.driftline.webhook.test");
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    expect(() => new Webhook(otherSecret).verify(delivery!.body, delivery!.headers)).toThrow();

    const deliveries = page.locator(`[data-deliveries] table.deliveries tbody tr`);
    await deliveries.first().locator("[data-status=delivered]").waitFor();
    expect(await deliveries.count()).toBe(1);
    expect(await deliveries.first().textContent()).toMatch(/webhook\.test.*delivered.*204.*ms/);
    await shot(page, "console-webhooks-delivered");

    // A receiver answering 500: the outcome says so, and the failed attempt is listed.
    const failing = `${receiver.url}/hooks/failing-${suffix}?status=500`;
    await page.fill("#webhook-url", failing);
    await page.click("#webhook-form button[type=submit]");
    await page.waitForSelector("#webhook-secret");
    await page.click("button[data-action=dismiss-secret]");
    await row(page, failing).locator("button[data-action=test]").click();
    await page.waitForSelector("[data-outcome].error-state");
    expect(await page.textContent("[data-outcome]")).toContain("failed: HTTP 500");
    await page.locator(`[data-deliveries] [data-status=failed]`).waitFor();
    expect(await page.textContent("[data-deliveries]")).toContain("500");
    await shot(page, "console-webhooks-failed");

    // Delete asks first; cancelling keeps the endpoint.
    await row(page, url).locator("button[data-action=delete]").click();
    await page.waitForSelector("[role=dialog] button[data-action=confirm-delete]");
    await shot(page, "console-webhooks-confirm");
    await page.click("[role=dialog] button:text-is('Cancel')");
    await page.waitForSelector("[role=dialog]", { state: "detached" });
    expect(await row(page, url).count()).toBe(1);
    await row(page, url).locator("button[data-action=delete]").click();
    await page.click("[role=dialog] button[data-action=confirm-delete]");
    await row(page, url).waitFor({ state: "detached" });
    expect(await page.textContent("[data-outcome]")).toContain(`Deleted the endpoint ${url}`);
    const after = await db.query(
      "SELECT disabled_at FROM webhook_endpoints WHERE tenant_id = $1 AND url = $2",
      [TENANT, url],
    );
    expect(after.rows).toHaveLength(1);
    expect(after.rows[0]?.disabled_at).not.toBeNull();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a read key the endpoints and deliveries, without the admin actions", async () => {
    const url = `${receiver.url}/hooks/read-${suffix}`;
    const auth = { authorization: `Bearer ${keys.readAdmin}`, "content-type": "application/json" };
    const create = await fetch(`${WORKER_URL}/v1/webhooks`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ url }),
    });
    expect(create.status).toBe(201);
    const { id } = (await create.json()) as { id: string };
    const test = await fetch(`${WORKER_URL}/v1/webhooks/${id}/test`, {
      method: "POST",
      headers: auth,
    });
    // No secret registered at the receiver for this channel: it still answers 204.
    expect(((await test.json()) as { delivered: boolean }).delivered).toBe(true);

    const context = await browser.newContext({ viewport: { width: 1400, height: 700 } });
    const page = await signInToWebhooks(context, keys.read!);
    const problems = await watchPage(page);
    await row(page, url).waitFor();
    expect(await row(page, url).textContent()).toContain("every alert type");
    await page.locator("[data-deliveries] [data-status=delivered]").waitFor();
    expect(await page.textContent("[data-note=read-only]")).toContain("needs an admin key");
    expect(await page.locator("#webhook-form").count()).toBe(0);
    expect(await page.locator("button[data-action=test], button[data-action=delete]").count()).toBe(
      0,
    );
    await shot(page, "console-webhooks-read");

    // The API refuses the read session's writes even with its CSRF token.
    const refused = await page.evaluate(async (endpointId) => {
      const session = (await (await fetch("/dashboard/session")).json()) as { csrfToken: string };
      const res = await fetch(`/v1/webhooks/${endpointId}`, {
        method: "DELETE",
        headers: { "x-csrf-token": session.csrfToken },
      });
      return res.status;
    }, id);
    expect(refused).toBe(403);

    // Listing models is reading: the read key sees the versions, without the promote buttons.
    await page.click("#nav a[href='#/models']");
    await page.waitForSelector("#view [data-page=models] table");
    expect(await page.textContent("[data-note=read-only]")).toContain("needs an admin key");
    expect(await page.locator("button[data-action=promote]").count()).toBe(0);
    await shot(page, "console-models-read");
    expect(problems).toEqual([]);
    await context.close();
  });
});
