/** What the console's browser tests share: Debian's Chromium, keys, sign-in and screenshots. */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { WORKER_URL } from "./local-stack";

// The console's tests take the Worker and their keys from here too.
export { newKey, WORKER_URL } from "./local-stack";

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
