/**
 * The browser SDK in Debian's Chromium against the Worker `npm test` runs: a page on its own
 * origin imports /sdk/v1/driftline.js, a stub `fbq` records the pixel calls, and what the SDK
 * sends is read back from the `events` Kafka topic.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantForwardingRedisKey } from "#core/destinations";
import { type EventMessage, eventMessageSchema } from "#core/events";
import { topicNames } from "#core/topics";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { launchChromium } from "../support/console-browser";
import { endOffsets, readRecords, testKafka } from "../support/kafka-reader";
import { LOCAL_UPSTASH, newKey, WORKER_URL } from "../support/local-stack";

const stack = loadLocalStackConfig();
const topics = topicNames(process.env.KAFKA_TOPIC_PREFIX ?? stack.KAFKA_TOPIC_PREFIX);
const kafka = testKafka("driftline-e2e-sdk");

// The page: a stub Meta Pixel that records its calls, and the SDK imported from the Worker.
const PAGE = (key: string, consent: string) => `<!doctype html><meta charset="utf-8">
<script>window.fbqCalls = []; window.fbq = function () { window.fbqCalls.push(Array.from(arguments)); };</script>
<script type="module">
import * as driftline from "${WORKER_URL}/sdk/v1/driftline.js";
driftline.init({ endpoint: "${WORKER_URL}", key: "${key}", consent: "${consent}", flushIntervalMs: 200 });
window.driftline = driftline;
window.sdkReady = true;
</script>`;

let server: Server;
let origin: string;
let browser: Browser;
let pages: Map<string, string>;

beforeAll(async () => {
  pages = new Map();
  server = createServer((req, res) => {
    const html = pages.get(new URL(req.url ?? "/", "http://x").pathname);
    // Cacheable, as a site's pages usually are: a page opened again offline comes from the cache.
    res.writeHead(html ? 200 : 404, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "max-age=600",
    });
    res.end(html ?? "not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

/** As POST /v1/destinations does: the tenant forwards, so its messages keep fbp and fbc. */
async function enableForwarding(tenant: string): Promise<void> {
  const res = await fetch(
    `${LOCAL_UPSTASH.url}/set/${encodeURIComponent(tenantForwardingRedisKey(tenant))}/1`,
    {
      method: "POST",
      headers: {
        authorization: `Bearer ${LOCAL_UPSTASH.token}`,
      },
    },
  );
  if (!res.ok) throw new Error(`could not set the forwarding flag: ${res.status}`);
}

function publishableKey(tenant: string): Promise<string> {
  return newKey(tenant, ["ingest"], [origin]);
}

async function openPage(
  context: BrowserContext,
  tenant: string,
  consent: "granted" | "pending",
  query = "",
): Promise<Page> {
  const key = await publishableKey(tenant);
  await enableForwarding(tenant);
  const path = `/${tenant}`;
  pages.set(path, PAGE(key, consent));
  const page = await context.newPage();
  await page.goto(`${origin}${path}${query}`);
  await page.waitForFunction(() => (globalThis as unknown as { sdkReady?: boolean }).sdkReady);
  return page;
}

const track = (page: Page, name: string, props?: Record<string, unknown>) =>
  page.evaluate(
    ([n, p]) =>
      (
        globalThis as unknown as {
          driftline: { track(n: string, p?: unknown): string | undefined };
        }
      ).driftline.track(n as string, p as Record<string, unknown> | undefined),
    [name, props] as const,
  );

const fbqCalls = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { fbqCalls: unknown[][] }).fbqCalls);

async function messagesOf(tenant: string, from: Map<number, string>, n: number) {
  const records = await readRecords(kafka, topics.events, from, `${tenant}:`, n, {
    timeoutMs: 30_000,
  });
  return records.map((r) => eventMessageSchema.parse(r.value) as EventMessage);
}

describe("browser SDK in Chromium", () => {
  it("is served as an ES module under 4 KB gzipped", async () => {
    const res = await fetch(`${WORKER_URL}/sdk/v1/driftline.js`, {
      headers: { "accept-encoding": "identity" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/javascript/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const { gzipSync } = await import("node:zlib");
    const code = Buffer.from(await res.arrayBuffer());
    expect(code.toString()).toMatch(/export\s*\{/);
    expect(gzipSync(code, { level: 9 }).length).toBeLessThanOrEqual(4096);
  });

  it("sends events with the cookies' fbp/fbc and the event id it gives fbq as eventID", async () => {
    const tenant = `sdk-${randomUUID().slice(0, 8)}`;
    const context = await browser.newContext();
    await context.addCookies([
      { name: "_fbp", value: "fb.1.1700000000000.1234567890", url: origin },
      { name: "_fbc", value: "fb.1.1700000000000.IwAR-cookie-click", url: origin },
    ]);
    const from = await endOffsets(kafka, topics.events);
    const page = await openPage(context, tenant, "granted");
    const purchaseId = await track(page, "Purchase", { value: 42.5, currency: "EUR" });
    const customId = await track(page, "WishlistShared");
    expect(purchaseId).toMatch(/^[0-9a-f-]{36}$/);

    expect(await fbqCalls(page)).toEqual([
      ["track", "Purchase", { value: 42.5, currency: "EUR" }, { eventID: purchaseId }],
      ["trackCustom", "WishlistShared", {}, { eventID: customId }],
    ]);
    const messages = await messagesOf(tenant, from, 2);
    expect(messages.map((m) => m.eventId).sort()).toEqual([purchaseId, customId].sort());
    for (const m of messages) {
      expect(m.keyKind).toBe("browser");
      expect(m.event.action_source).toBe("website");
      expect(m.event.user_data.fbp).toBe("fb.1.1700000000000.1234567890");
      expect(m.event.user_data.fbc).toBe("fb.1.1700000000000.IwAR-cookie-click");
      expect(m.event.event_source_url).toBe(`${origin}/${tenant}`);
    }
    const purchase = messages.find((m) => m.eventId === purchaseId);
    expect(purchase?.value).toBe(42.5);
    expect(purchase?.currency).toBe("EUR");
    await context.close();
  });

  it("makes _fbc from the landing URL's fbclid as a first-party cookie", async () => {
    const tenant = `sdk-${randomUUID().slice(0, 8)}`;
    const context = await browser.newContext();
    const from = await endOffsets(kafka, topics.events);
    const page = await openPage(context, tenant, "granted", "?fbclid=IwAR-landing-42");
    const id = await track(page, "Lead");
    const [message] = await messagesOf(tenant, from, 1);
    expect(message?.eventId).toBe(id);
    expect(message?.event.user_data.fbc).toMatch(/^fb\.1\.\d{13}\.IwAR-landing-42$/);
    expect(message?.event.user_data.fbp).toMatch(/^fb\.1\.\d{13}\.\d+$/);
    expect(message?.clickIds?.fbclid).toBe("IwAR-landing-42");
    // First-party cookies of the page's own host (no Domain attribute), SameSite=Lax.
    const fbc = (await context.cookies(origin)).find((c) => c.name === "_fbc");
    expect(fbc).toMatchObject({ value: message?.event.user_data.fbc, domain: "127.0.0.1" });
    expect(fbc?.sameSite).toBe("Lax");
    await context.close();
  });

  it("keeps events while offline (in localStorage) and sends each once when the network returns", async () => {
    const tenant = `sdk-${randomUUID().slice(0, 8)}`;
    const context = await browser.newContext();
    const from = await endOffsets(kafka, topics.events);
    const page = await openPage(context, tenant, "granted");
    await context.setOffline(true);
    const ids = [await track(page, "ViewContent"), await track(page, "AddToCart")];
    await page.waitForTimeout(1_500);
    const stored = await page.evaluate(() => localStorage.getItem("driftline:queue"));
    expect(JSON.parse(stored ?? "[]")).toHaveLength(2);
    ids.push(await track(page, "InitiateCheckout"));
    await context.setOffline(false);
    const messages = await messagesOf(tenant, from, 3);
    expect(messages.map((m) => m.eventId).sort()).toEqual([...ids].sort());
    await page.waitForFunction(() => localStorage.getItem("driftline:queue") === null);
    await context.close();
  });

  it("keeps events tracked offline through a page reload and sends each exactly once when the network returns", async () => {
    const tenant = `sdk-${randomUUID().slice(0, 8)}`;
    const context = await browser.newContext();
    const from = await endOffsets(kafka, topics.events);
    // Every event id in a request the Worker answered (fetch or beacon), as often as it was sent.
    const sent: string[] = [];
    context.on("requestfinished", async (request) => {
      if (!request.url().startsWith(`${WORKER_URL}/v1/events`)) return;
      const response = await request.response();
      if (response?.status() !== 202) return;
      const body = JSON.parse(request.postData() ?? "{}") as { events?: { event_id: string }[] };
      for (const e of body.events ?? []) sent.push(e.event_id);
    });
    const page = await openPage(context, tenant, "granted");
    await context.setOffline(true);
    const ids = [await track(page, "ViewContent"), await track(page, "AddToCart")];
    await page.waitForTimeout(1_500);
    const queued = () =>
      page.evaluate(() => JSON.parse(localStorage.getItem("driftline:queue") ?? "[]") as unknown[]);
    expect(await queued()).toHaveLength(2);

    // The page loads again while offline (it and the SDK come from the browser's cache), after
    // the old one's pagehide and unload: nothing may be dropped.
    await page.goto(page.url());
    await page.waitForFunction(() => (globalThis as unknown as { sdkReady?: boolean }).sdkReady);
    expect(await queued()).toHaveLength(2);
    ids.push(await track(page, "InitiateCheckout"));
    await page.waitForTimeout(1_000);
    expect(await queued()).toHaveLength(3);
    expect(sent).toEqual([]);

    await context.setOffline(false);
    const messages = await messagesOf(tenant, from, 3);
    expect(messages.map((m) => m.eventId).sort()).toEqual([...ids].sort());
    await page.waitForFunction(() => localStorage.getItem("driftline:queue") === null);
    await page.waitForTimeout(1_500);
    // Exactly once: each event was in one answered request (the Worker's dedup would hide a
    // second send from Kafka, so the requests themselves are counted).
    expect([...sent].sort()).toEqual([...ids].sort());
    await context.close();
  });

  it("sends nothing, writes no cookie and calls no pixel before consent; sends what waited once granted", async () => {
    const tenant = `sdk-${randomUUID().slice(0, 8)}`;
    const context = await browser.newContext();
    const requests: string[] = [];
    context.on("request", (r) => {
      if (r.url().includes("/v1/events")) requests.push(r.url());
    });
    const from = await endOffsets(kafka, topics.events);
    const page = await openPage(context, tenant, "pending");
    const id = await track(page, "Purchase", { value: 10, currency: "USD" });
    await page.waitForTimeout(1_000);
    expect(requests).toEqual([]);
    expect(await fbqCalls(page)).toEqual([]);
    expect(await context.cookies(origin)).toEqual([]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    await page.evaluate(() =>
      (globalThis as unknown as { driftline: { consent(g: boolean): void } }).driftline.consent(
        true,
      ),
    );
    const [message] = await messagesOf(tenant, from, 1);
    expect(message?.eventId).toBe(id);
    expect(message?.event.user_data.fbp).toMatch(/^fb\.1\./);
    expect(await fbqCalls(page)).toEqual([
      ["track", "Purchase", { value: 10, currency: "USD" }, { eventID: id }],
    ]);

    // Withdrawn: nothing more is sent or kept.
    const before = requests.length;
    await page.evaluate(() =>
      (globalThis as unknown as { driftline: { consent(g: boolean): void } }).driftline.consent(
        false,
      ),
    );
    expect(await track(page, "Purchase", { value: 11, currency: "USD" })).toBeUndefined();
    await page.waitForTimeout(800);
    expect(requests.length).toBe(before);
    await context.close();
  });
});
