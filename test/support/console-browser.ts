/** What the console's browser tests share: Debian's Chromium, keys, sign-in and screenshots. */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { Role } from "#core/api-keys";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";

const stack = loadLocalStackConfig();
/** The Worker under test (`npm test` starts it and sets WORKER_URL). */
export const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
/** Screenshots go here (gitignored), to be looked at after a run. */
export const ARTIFACTS = resolve(import.meta.dirname, "../artifacts");

/** Debian's Chromium (playwright-core brings no browser of its own); CHROMIUM_PATH overrides it. */
export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
}

/** A fresh API key in the local stack's Upstash, as `keys:create` makes one. */
export async function newKey(tenant: string, roles: Role[]): Promise<string> {
  const { key } = await createApiKey({
    tenant,
    roles,
    origins: [],
    redis: {
      url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
      token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
    },
  });
  return key;
}

/** Signs in through the console's form and waits for the overview. */
export async function signIn(context: BrowserContext, key: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${WORKER_URL}/dashboard`);
  await page.fill("#api-key", key);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#view [data-page=overview]", { timeout: 15_000 });
  return page;
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
}
