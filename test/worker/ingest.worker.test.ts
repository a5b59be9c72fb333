/**
 * Event ingestion inside workerd: POST /v1/events and /v1/capi/{pixelId}/events with the real app,
 * auth and Upstash dedup (local Upstash REST server + Redis); the ingest queue records.
 */
import { exports } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { tenantForwardingRedisKey } from "#core/destinations";
import { eventDedupKey, eventMessageSchema, eventsResponseSchema } from "#core/events";
import { dedupRedisKey, UpstashDedupStore } from "../../src/ingest/upstash-dedup-store";
import { ingestTestApp, nowSeconds, sha256 } from "./ingest-support";
import { createKey, type ErrorJson, redis, uniqueTenant } from "./support";

const worker = (exports as unknown as { default: Fetcher }).default;

const capiResponseSchema = eventsResponseSchema.extend({
  events_received: eventsResponseSchema.shape.accepted,
  messages: z.array(z.string()),
  fbtrace_id: z.string().min(1),
});

const UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";

/**
 * Every customer information parameter of Meta's Conversions API, raw, with the value Meta's
 * normalisation rules turn it into (README of the event core; the core's tests compare them with
 * the Business SDK).
 */
const RAW_CONTACT = {
  em: [" Joe.Smith@Example.COM ", "joe.smith@example.com"],
  ph: ["+1 (650) 555-1212", "16505551212"],
  fn: ["Joe", "joe"],
  ln: ["Smithers", "smithers"],
  db: ["19970216", "19970216"],
  ge: ["Male", "m"],
  ct: ["Menlo Park", "menlopark"],
  st: ["CA", "ca"],
  zp: ["94025-1234", "94025"],
  country: ["US", "us"],
  external_id: ["user-4711", "user-4711"],
  f5first: ["Joseph", "josep"],
  f5last: ["Smithers", "smith"],
  fi: ["J", "j"],
  dobd: ["6", "06"],
  dobm: ["2", "02"],
  doby: ["1997", "1997"],
  app_user_id: ["app-user-99", "app-user-99"],
} as const;

/** Parameters Meta never hashes: forwarded as sent. */
const UNHASHED = {
  client_ip_address: "203.0.113.7",
  client_user_agent: UA,
  fbc: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
  fbp: "fb.1.1558571054389.1098115397",
  subscription_id: "sub-778",
  fb_login_id: "1000123",
  lead_id: "2000456",
  anon_id: "anon-5b6c",
  madid: "38400000-8cf0-11bd-b23e-10b96e40000d",
  page_id: "3000789",
  page_scoped_user_id: "4000987",
  ctwa_clid: "ctwa-Aa1Bb2",
  ig_account_id: "5000654",
  ig_sid: "ig-sid-321",
} as const;

/** Raw values that must never appear in anything queued. */
const RAW_PII = [
  "Joe.Smith@Example.COM",
  "joe.smith@example.com",
  "650) 555-1212",
  "16505551212",
  "Smithers",
  "smithers",
  "Menlo Park",
  "menlopark",
  "94025-1234",
  "user-4711",
  "Joseph",
  "app-user-99",
];

function fullUserData(): Record<string, unknown> {
  const raw = Object.fromEntries(Object.entries(RAW_CONTACT).map(([k, [v]]) => [k, v]));
  return { ...raw, ...UNHASHED };
}

/** A Purchase as in Meta's "Using the Conversions API" example, with every user_data parameter. */
function capiPurchase(eventId: string, overrides: Record<string, unknown> = {}) {
  return {
    event_name: "Purchase",
    event_time: nowSeconds() - 30,
    event_id: eventId,
    event_source_url:
      "https://jaspers-market.example/product/123?utm_campaign=spring&fbclid=IwAR1x",
    action_source: "website",
    user_data: fullUserData(),
    custom_data: {
      value: 100.2,
      currency: "usd",
      content_ids: ["product.id.123"],
      content_type: "product",
      contents: [{ id: "product.id.123", quantity: 1, item_price: "100.20" }],
      order_id: "order-123",
    },
    opt_out: false,
    ...overrides,
  };
}

/** Meta's documented example verbatim (already hashed em/ph), apart from a fresh event_time. */
function metaDocumentedEvent(eventId: string) {
  return {
    event_name: "Purchase",
    event_time: nowSeconds() - 60,
    event_id: eventId,
    event_source_url: "http://jaspers-market.com/product/123",
    action_source: "website",
    user_data: {
      client_ip_address: "192.19.9.9",
      client_user_agent: "test ua",
      em: ["309a0a5c3e211326ae75ca18196d301a9bdbd1a882a4d2569511033da23f0abd"],
      ph: [
        "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4",
        "6f4fcb9deaeadc8f9746ae76d97ce1239e98b404efe5da3ee0b7149740f89ad6",
      ],
      fbc: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
      fbp: "fb.1.1558571054389.1098115397",
    },
    custom_data: {
      value: 100.2,
      currency: "USD",
      content_ids: ["product.id.123"],
      content_type: "product",
    },
    opt_out: false,
  };
}

function websiteEvent(eventId: string, overrides: Record<string, unknown> = {}) {
  return {
    event_name: "AddToCart",
    event_time: Date.now() - 1_000,
    event_id: eventId,
    event_source_url: "https://shop.example/cart?utm_source=meta&utm_campaign=summer",
    user_data: { em: "Shopper@Example.com", fbp: "fb.1.1700000000000.123456789" },
    custom_data: { value: 19.99, currency: "EUR" },
    ...overrides,
  };
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe("POST /v1/capi/{pixelId}/events", () => {
  it("takes Meta's request body with every customer information parameter and queues hashed messages", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("capi");
    const key = await createKey(tenant, ["ingest"]);
    // As POST /v1/destinations does: the tenant forwards, so its messages keep ip, ua, fbc, fbp.
    await redis().set(tenantForwardingRedisKey(tenant), "1");
    const res = await app.fetch("/v1/capi/1234567890123456/events", {
      key,
      json: {
        data: [capiPurchase("order-123"), metaDocumentedEvent("event.id.123")],
        test_event_code: "TEST4039",
        partner_agent: "driftline-test",
      },
    });
    expect(res.status).toBe(202);
    const body = capiResponseSchema.parse(await res.json());
    expect(body.fbtrace_id).toBe(res.headers.get("x-request-id"));
    expect(body).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: 0,
      events_received: 2,
      messages: [],
      fbtrace_id: body.fbtrace_id,
      results: [
        { index: 0, status: "accepted", eventId: "order-123" },
        { index: 1, status: "accepted", eventId: "event.id.123" },
      ],
    });

    expect(app.queue.messages).toHaveLength(2);
    const [first, second] = app.queue.messages;
    expect(first?.topic).toBe("capi");
    expect(first?.key).toBe(`${tenant}:order-123`);
    const message = eventMessageSchema.parse(first?.value);
    expect(message).toMatchObject({
      schemaVersion: 1,
      tenant,
      source: "capi",
      pixelId: "1234567890123456",
      eventId: "order-123",
      eventIdAssigned: false,
      eventName: "Purchase",
      actionSource: "website",
      value: 100.2,
      currency: "USD",
      campaign: "spring",
      clickIds: { fbclid: "IwAR1x" },
      testEventCode: "TEST4039",
      partnerAgent: "driftline-test",
    });
    // Contact fields hashed (SHA-256 of the normalised value, computed here with WebCrypto).
    const userData = message.event.user_data as Record<string, unknown>;
    for (const [field, [, normalised]] of Object.entries(RAW_CONTACT)) {
      const digest = await sha256(normalised);
      const got = userData[field];
      expect(Array.isArray(got) ? got : [got], field).toEqual([digest]);
    }
    for (const [field, value] of Object.entries(UNHASHED))
      expect(userData[field], field).toBe(value);
    expect(message.matchQuality.score).toBe(10);
    expect(message.event.custom_data).toMatchObject({
      value: 100.2,
      currency: "USD",
      contents: [{ id: "product.id.123", quantity: 1, item_price: 100.2 }],
    });

    // Meta's documented example: hashed values pass through untouched.
    const documented = eventMessageSchema.parse(second?.value);
    expect(documented.event.user_data.em).toEqual([
      "309a0a5c3e211326ae75ca18196d301a9bdbd1a882a4d2569511033da23f0abd",
    ]);
    expect(documented.event.user_data.ph).toHaveLength(2);
    expect(documented.event.user_data.client_ip_address).toBe("192.19.9.9");

    const queued = JSON.stringify(app.queue.batches);
    for (const raw of RAW_PII) expect(queued.toLowerCase(), raw).not.toContain(raw.toLowerCase());
  });

  it("answers per event: accepted, rejected with field errors, duplicate (also within one batch)", async () => {
    const app = ingestTestApp();
    const key = await createKey(uniqueTenant("mixed"), ["ingest"]);
    const { event_name: _dropped, ...nameless } = capiPurchase("bad-1");
    const data = [
      capiPurchase("a-1"),
      nameless,
      capiPurchase("a-1"),
      capiPurchase("a-2", { event_time: nowSeconds() - 8 * 86_400 }),
      capiPurchase("a-3", { user_data: { em: "not an email", client_user_agent: UA } }),
      capiPurchase("a-4", { custom_data: { currency: "USD" } }),
      capiPurchase("a-5", { event_time: Date.now() }),
      capiPurchase("a-1", { event_name: "Lead" }),
    ];
    const res = await app.fetch("/v1/capi/42/events", { key, json: { data } });
    expect(res.status).toBe(202);
    const body = capiResponseSchema.parse(await res.json());
    expect(body.results.map((r) => r.status)).toEqual([
      "accepted",
      "rejected",
      "duplicate",
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "accepted",
    ]);
    expect({ a: body.accepted, d: body.duplicates, r: body.rejected }).toEqual({
      a: 2,
      d: 1,
      r: 5,
    });
    expect(body.events_received).toBe(3);
    // Meta's `messages`: one line per event not accepted, naming its position and why.
    expect(body.messages).toHaveLength(6);
    expect(body.messages[0]).toMatch(/^data\[1\]: rejected: data\.1\.event_name /);
    const fields = (i: number) => body.results[i]?.errors?.map((e) => e.field);
    expect(fields(1)).toEqual(["data.1.event_name"]);
    expect(body.results[1]?.eventId).toBe("bad-1");
    expect(fields(3)).toEqual(["data.3.event_time"]);
    expect(body.results[3]?.errors?.[0]?.message).toMatch(/old/);
    expect(fields(4)).toEqual(["data.4.user_data.em"]);
    expect(fields(5)).toEqual(["data.5.custom_data.value"]);
    expect(body.results[6]?.errors?.[0]?.message).toMatch(/milliseconds/);
    // Same event_id, other event_name: a different event (Meta dedups on name + id).
    expect(body.results[7]).toEqual({ index: 7, status: "accepted", eventId: "a-1" });
    expect(app.queue.messages.map((m) => (m.value as { eventName: string }).eventName)).toEqual([
      "Purchase",
      "Lead",
    ]);

    // The whole batch again: what was accepted is now a duplicate, nothing more is queued.
    const again = capiResponseSchema.parse(
      await (await app.fetch("/v1/capi/42/events", { key, json: { data } })).json(),
    );
    expect(again.duplicates).toBe(3);
    expect(again.accepted).toBe(0);
    expect(app.queue.messages).toHaveLength(2);

    // Beside the events, one outcome record per request carries its counts to the stream
    // processor (the rejected and duplicate shares it watches), with a fresh request id each.
    const outcomes = app.queue.outcomes;
    expect(outcomes.map((o) => [o.source, o.accepted, o.duplicates, o.rejected, o.copies])).toEqual(
      [
        ["capi", 2, 1, 5, 0],
        ["capi", 0, 3, 5, 0],
      ],
    );
    expect(new Set(outcomes.map((o) => o.tenant)).size).toBe(1);
    expect(outcomes[0]!.requestId).not.toBe(outcomes[1]!.requestId);
    expect(app.queue.records.map((r) => r.topic)).toEqual(["capi", "capi", "capi", "capi"]);
  });

  it("dedups per tenant for 48 h, across the website and CAPI routes", async () => {
    const app = ingestTestApp();
    const tenantA = uniqueTenant("dedup-a");
    const keyA = await createKey(tenantA, ["ingest"]);
    const keyB = await createKey(uniqueTenant("dedup-b"), ["ingest"]);
    const capi = { data: [capiPurchase("shared-1")] };
    const statuses = async (res: Response) =>
      (await json<{ results: { status: string }[] }>(res)).results.map((r) => r.status);
    expect(await statuses(await app.fetch("/v1/capi/1/events", { key: keyA, json: capi }))).toEqual(
      ["accepted"],
    );
    // Another tenant with the same event id is a different event.
    expect(await statuses(await app.fetch("/v1/capi/1/events", { key: keyB, json: capi }))).toEqual(
      ["accepted"],
    );
    // The browser copy of the same Purchase (Meta's browser/server deduplication).
    const browserCopy = websiteEvent("shared-1", {
      event_name: "Purchase",
      custom_data: { value: 100.2, currency: "USD" },
    });
    const res = await app.fetch("/v1/events", {
      key: keyA,
      json: browserCopy,
      headers: { "user-agent": UA },
    });
    expect(await statuses(res)).toEqual(["duplicate"]);

    const ttl = await redis().ttl(
      dedupRedisKey(eventDedupKey({ tenant: tenantA, eventName: "Purchase", eventId: "shared-1" })),
    );
    expect(ttl).toBeGreaterThan(48 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(48 * 3600);
  });

  it("stores dedup claims as fixed-size hashes, never the sender's names and ids", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("dedup-hash");
    const key = await createKey(tenant, ["ingest"]);
    const longId = `o-${"x".repeat(500)}`;
    const res = await app.fetch("/v1/capi/1/events", {
      key,
      json: { data: [capiPurchase(longId)] },
    });
    expect((await json<{ accepted: number }>(res)).accepted).toBe(1);
    const claimed = dedupRedisKey(
      eventDedupKey({ tenant, eventName: "Purchase", eventId: longId }),
    );
    expect(claimed).toMatch(/^dedup:[0-9a-f]{64}$/);
    expect(await redis().exists(claimed)).toBe(1);
    expect(await redis().exists(`dedup:${tenant}:Purchase:${longId}`)).toBe(0);
  });

  it("marks browser/server copies of one event as cross-source copies instead of dropping them; same-source repeats stay duplicates", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("dedup-kinds");
    const browserKey = await createKey(tenant, ["ingest"], ["https://shop.example"]);
    const serverKey = await createKey(tenant, ["ingest"]);
    const outcomes = async (res: Response) =>
      (await json<{ results: { status: string; crossSourceCopy?: true }[] }>(res)).results.map(
        (r) => (r.crossSourceCopy ? `${r.status}:copy` : r.status),
      );
    const fromPage = (eventId: string, headers: Record<string, string> = {}) =>
      app.fetch("/v1/events", {
        key: browserKey,
        json: websiteEvent(eventId, {
          event_name: "Purchase",
          custom_data: { value: 1_000_000, currency: "USD" },
        }),
        headers: { "user-agent": UA, ...headers },
      });
    const fromServer = (eventId: string, key = serverKey, headers: Record<string, string> = {}) =>
      app.fetch("/v1/capi/1/events", { key, json: { data: [capiPurchase(eventId)] }, headers });

    // Browser copy first: the server copy (with its customer information) still travels on.
    expect(await outcomes(await fromPage("order-9"))).toEqual(["accepted"]);
    expect(await outcomes(await fromPage("order-9"))).toEqual(["duplicate"]);
    expect(await outcomes(await fromServer("order-9"))).toEqual(["accepted:copy"]);
    expect(await outcomes(await fromServer("order-9"))).toEqual(["duplicate"]);
    // Server copy first: the browser copy is the marked one.
    expect(await outcomes(await fromServer("order-10"))).toEqual(["accepted"]);
    expect(await outcomes(await fromPage("order-10", { origin: "https://shop.example" }))).toEqual([
      "accepted:copy",
    ]);
    // A server key sent from a page (Origin header) claims in the browser namespace too.
    expect(
      await outcomes(await fromServer("order-11", serverKey, { origin: "https://shop.example" })),
    ).toEqual(["accepted"]);
    expect(await outcomes(await fromServer("order-11"))).toEqual(["accepted:copy"]);
    const sent = app.queue.messages.map((m) => {
      const value = (m as { value?: { keyKind?: string; crossSourceCopy?: true } }).value;
      return `${value?.keyKind}${value?.crossSourceCopy ? ":copy" : ""}`;
    });
    expect(sent).toEqual([
      "browser",
      "server:copy",
      "server",
      "browser:copy",
      "browser",
      "server:copy",
    ]);
    for (const m of app.queue.messages) eventMessageSchema.parse(m.value);
  });

  it("limits events and bytes per key, not just requests: 429 names the budget", async () => {
    const app = ingestTestApp({ RATE_LIMIT_EVENTS: 1_500 });
    const key = await createKey(uniqueTenant("budget-events"), ["ingest"]);
    const batch = (from: number) => ({
      events: Array.from({ length: 1_000 }, (_, i) =>
        websiteEvent(`e-${from + i}`, { event_name: "PageView", custom_data: undefined }),
      ),
    });
    const send = (body: unknown) =>
      app.fetch("/v1/events", { key, json: body, headers: { "user-agent": UA } });
    const first = await send(batch(0));
    expect(first.status).toBe(202);
    const second = await send(batch(1_000));
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = await json<ErrorJson & { error: { details?: unknown } }>(second);
    expect(body.error.code).toBe("RATE_LIMITED");
    expect(body.error.details).toEqual({ budget: "events", limit: 1_500, windowSeconds: 60 });
    expect(app.queue.messages).toHaveLength(1_000);

    const small = ingestTestApp({ RATE_LIMIT_BYTES: 4_096 });
    const byteKey = await createKey(uniqueTenant("budget-bytes"), ["ingest"]);
    const padded = (id: string) =>
      small.fetch("/v1/capi/1/events", {
        key: byteKey,
        json: {
          data: [
            capiPurchase(id, {
              custom_data: { value: 1, currency: "USD", note: "x".repeat(1_500) },
            }),
          ],
        },
      });
    expect((await padded("b-1")).status).toBe(202);
    const refused = await padded("b-2");
    expect(refused.status).toBe(429);
    const refusedBody = await json<{ error: { details?: unknown } }>(refused);
    expect(refusedBody.error.details).toEqual({ budget: "bytes", limit: 4_096, windowSeconds: 60 });
  });

  it("dedups test events (test_event_code) among themselves: the live event with the same id is still new", async () => {
    const app = ingestTestApp();
    const key = await createKey(uniqueTenant("dedup-test"), ["ingest"]);
    const statuses = async (body: unknown) =>
      (
        await json<{ results: { status: string }[] }>(
          await app.fetch("/v1/capi/1/events", { key, json: body }),
        )
      ).results.map((r) => r.status);
    const test = { data: [capiPurchase("t-1")], test_event_code: "TEST55" };
    expect(await statuses(test)).toEqual(["accepted"]);
    expect(await statuses(test)).toEqual(["duplicate"]);
    expect(await statuses({ ...test, test_event_code: "TEST56" })).toEqual(["accepted"]);
    expect(await statuses({ data: [capiPurchase("t-1")] })).toEqual(["accepted"]);
    expect(await statuses({ data: [capiPurchase("t-1")] })).toEqual(["duplicate"]);
  });

  it("accepts access_token in the query or the body (JSON and Graph API forms) like Meta", async () => {
    const app = ingestTestApp();
    const key = await createKey(uniqueTenant("token"), ["ingest"]);

    let res = await app.fetch(`/v1/capi/77/events?access_token=${key}`, {
      json: { data: [capiPurchase("q-1")] },
    });
    expect(res.status).toBe(202);

    res = await app.fetch("/v1/capi/77/events", {
      json: { data: [capiPurchase("b-1")], access_token: key },
    });
    expect(res.status).toBe(202);
    expect((await json<{ accepted: number }>(res)).accepted).toBe(1);

    const form = new FormData();
    form.set("data", JSON.stringify([capiPurchase("f-1")]));
    form.set("access_token", key);
    form.set("test_event_code", "TEST123");
    res = await app.fetch("/v1/capi/77/events", { body: form });
    expect(res.status).toBe(202);

    const urlencoded = new URLSearchParams({
      data: JSON.stringify([capiPurchase("u-1")]),
      access_token: key,
    });
    res = await app.fetch("/v1/capi/77/events", { body: urlencoded });
    expect(res.status).toBe(202);

    const messages = app.queue.messages.map((m) => eventMessageSchema.parse(m.value));
    expect(messages.map((m) => m.eventId)).toEqual(["q-1", "b-1", "f-1", "u-1"]);
    expect(messages[2]?.testEventCode).toBe("TEST123");
    // The token is a credential: it is never forwarded.
    expect(JSON.stringify(app.queue.batches)).not.toContain(key);
  });

  it("refuses missing, unknown and wrong-role keys", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("auth");
    const scoreKey = await createKey(tenant, ["score"]);
    const body = { data: [capiPurchase("x-1")] };

    let res = await app.fetch("/v1/capi/1/events", { json: body });
    expect(res.status).toBe(401);
    expect((await json<ErrorJson>(res)).error.code).toBe("UNAUTHENTICATED");

    res = await app.fetch("/v1/capi/1/events", {
      json: { ...body, access_token: "EAAB-meta-token" },
    });
    expect(res.status).toBe(401);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/not a Driftline API key/);

    res = await app.fetch(`/v1/capi/1/events?access_token=dl_${"x".repeat(43)}`, { json: body });
    expect(res.status).toBe(401);

    res = await app.fetch("/v1/capi/1/events", { key: scoreKey, json: body });
    expect(res.status).toBe(403);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/"ingest" role/);
    expect(app.queue.messages).toHaveLength(0);
  });

  it("answers 400 only for an unusable body, 413 for too many events or bytes, 415 for other media types", async () => {
    const app = ingestTestApp({ INGEST_MAX_BODY_BYTES: 200_000 });
    const key = await createKey(uniqueTenant("limits"), ["ingest"]);
    const post = (init: RequestInit & { json?: unknown }) =>
      app.fetch("/v1/capi/1/events", { key, ...init });

    let res = await post({ body: "{ not json", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/not valid JSON/);

    res = await post({ json: { data: [] } });
    expect(res.status).toBe(400);
    expect((await json<ErrorJson>(res)).error.details?.issues?.[0]?.field).toBe("data");

    // Nested thousands deep: a 400 naming the limit, not a stack overflow.
    const deep = `${"[".repeat(4_000)}${"]".repeat(4_000)}`;
    res = await post({
      body: `{"data":[{"event_name":"x","custom_data":{"a":${deep}}}]}`,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/more than 32 levels deep/);
    res = await app.fetch("/v1/events", {
      key,
      body: `{"events":[{"event_name":"x","custom_data":${deep}}]}`,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);

    res = await post({ json: [capiPurchase("arr")] });
    expect(res.status).toBe(400);

    res = await post({ json: { data: Array.from({ length: 1001 }, () => ({})) } });
    expect(res.status).toBe(413);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/at most 1000 events/);

    res = await post({
      json: { data: [capiPurchase("big", { custom_data: { pad: "x".repeat(210_000) } })] },
    });
    expect(res.status).toBe(413);
    expect((await json<ErrorJson>(res)).error.code).toBe("PAYLOAD_TOO_LARGE");

    // A chunked body (no Content-Length) is counted while it is read.
    const chunks = new Blob([JSON.stringify({ data: [{ pad: "y".repeat(210_000) }] })]).stream();
    res = await post({ body: chunks, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);

    res = await post({ body: "<data/>", headers: { "content-type": "application/xml" } });
    expect(res.status).toBe(415);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/application\/json/);

    res = await post({ json: { data: [capiPurchase("px")] } });
    expect(res.status).toBe(202);
    res = await app.fetch("/v1/capi/bad%20pixel/events", {
      key,
      json: { data: [capiPurchase("p")] },
    });
    expect(res.status).toBe(400);
    expect(app.queue.messages).toHaveLength(1);
  });

  it("answers 503 when the queue refuses, releasing the dedup keys of what was not queued", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("outage");
    const key = await createKey(tenant, ["ingest"]);
    const data = Array.from({ length: 250 }, (_, i) => capiPurchase(`o-${i}`));
    // 250 events of ~2.5 KB go out in batches cut by count and bytes; the second batch fails.
    app.queue.failCalls = new Set([2]);
    let res = await app.fetch("/v1/capi/9/events", { key, json: { data } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const error = await json<ErrorJson>(res);
    expect(error.error.code).toBe("DEPENDENCY_UNAVAILABLE");
    const notTaken = Number(/did not take (\d+) of 250/.exec(error.error.message)?.[1]);
    expect(notTaken).toBeGreaterThan(0);
    expect(app.queue.messages).toHaveLength(250 - notTaken);
    const queuedFirst = new Set(app.queue.messages.map((m) => m.key));

    // The retry: what reached the queue is a duplicate, the failed batch is accepted now.
    app.queue.failCalls = new Set();
    res = await app.fetch("/v1/capi/9/events", { key, json: { data } });
    expect(res.status).toBe(202);
    const body = capiResponseSchema.parse(await res.json());
    expect(body.accepted).toBe(notTaken);
    expect(body.duplicates).toBe(250 - notTaken);
    for (const result of body.results) {
      const wasQueued = queuedFirst.has(`${tenant}:${result.eventId}`);
      expect(result.status, String(result.eventId)).toBe(wasQueued ? "duplicate" : "accepted");
    }
    // Every event queued exactly once over both attempts.
    const keys = app.queue.messages.map((m) => m.key);
    expect(new Set(keys).size).toBe(250);
    expect(keys).toHaveLength(250);

    // A third send is all duplicates: only its outcome record goes to the queue, and when the
    // queue refuses it the request still answers (its events need nothing queued).
    const calls = app.queue.batches.length;
    app.queue.failCalls = new Set([app.queue.sendCalls + 1]);
    res = await app.fetch("/v1/capi/9/events", { key, json: { data } });
    expect(res.status).toBe(202);
    expect(capiResponseSchema.parse(await res.json()).duplicates).toBe(250);
    expect(app.queue.batches).toHaveLength(calls);
  });

  it("accepts and queues the events when Upstash cannot deduplicate, dropping only repeats within the request", async () => {
    // workerd itself logs "Network connection lost" for the refused connection; it is handled.
    const deadRedis = new Redis({
      url: "http://127.0.0.1:1",
      token: "unused",
      retry: false,
      enableTelemetry: false,
    });
    const app = ingestTestApp({}, { dedup: new UpstashDedupStore(deadRedis) });
    const tenant = uniqueTenant("redis-down");
    const key = await createKey(tenant, ["ingest"]);
    const res = await app.fetch("/v1/capi/3/events", {
      key,
      json: { data: [capiPurchase("r-1"), capiPurchase("r-2"), capiPurchase("r-1")] },
    });
    expect(res.status).toBe(202);
    const body = capiResponseSchema.parse(await res.json());
    expect(body.results.map((r) => r.status)).toEqual(["accepted", "accepted", "duplicate"]);
    expect(app.queue.messages.map((m) => m.key)).toEqual([`${tenant}:r-1`, `${tenant}:r-2`]);
  });

  it("packs the events into bundles of at most 128 KB, sent in batches of at most 100 messages and 256 KB", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("chunks");
    const key = await createKey(tenant, ["ingest"]);
    const data = Array.from({ length: 1000 }, (_, i) =>
      capiPurchase(
        `c-${i}`,
        i % 10 === 0 ? { custom_data: { value: 1, currency: "USD", note: "é".repeat(6_000) } } : {},
      ),
    );
    const res = await app.fetch("/v1/capi/5/events", { key, json: { data } });
    expect(res.status).toBe(202);
    expect(capiResponseSchema.parse(await res.json()).accepted).toBe(1000);
    expect(app.queue.messages).toHaveLength(1000);
    // ~3.7 MB of events: a few dozen bundles (the queue checks each against 128 KB), not 1000
    // messages, in more than one sendBatch call (each checked against 256 KB).
    const bundles = app.queue.batches.flat();
    expect(bundles.length).toBeGreaterThan(25);
    expect(bundles.length).toBeLessThan(50);
    expect(app.queue.batches.length).toBeGreaterThan(10);
    for (const batch of app.queue.batches) expect(batch.length).toBeLessThanOrEqual(100);
    // Request order is kept across batches.
    expect(app.queue.messages.map((m) => m.key)).toEqual(
      data.map((e) => `${tenant}:${e.event_id}`),
    );
  });
});

describe("POST /v1/events", () => {
  it("takes a sendBeacon text/plain body with the key in the query and fills ip and user agent from the request", async () => {
    const app = ingestTestApp();
    const tenant = uniqueTenant("beacon");
    const key = await createKey(tenant, ["ingest"], ["https://shop.example"]);
    const event = websiteEvent("w-1", { user_data: { em: "Shopper@Example.com" } });
    const res = await app.fetch(`/v1/events?access_token=${key}`, {
      body: JSON.stringify(event),
      headers: {
        "content-type": "text/plain;charset=UTF-8",
        origin: "https://shop.example",
        "cf-connecting-ip": "198.51.100.23",
        "user-agent": UA,
      },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(eventsResponseSchema.parse(await res.json())).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: 0,
      results: [{ index: 0, status: "accepted", eventId: "w-1" }],
    });
    const [queued] = app.queue.messages;
    expect(queued?.topic).toBe("events");
    expect(queued?.key).toBe(`${tenant}:w-1`);
    const message = eventMessageSchema.parse(queued?.value);
    expect(message.source).toBe("web");
    expect(message.event.action_source).toBe("website");
    // No destination: the IP address and user agent stay at the edge (match quality still counts them).
    expect(message.event.user_data).toEqual({ em: [await sha256("shopper@example.com")] });
    expect(message.matchQuality.signals).toEqual(expect.arrayContaining(["ip", "userAgent"]));
    expect(JSON.stringify(app.queue.batches)).not.toContain("198.51.100.23");
    expect(message.utm).toEqual({ source: "meta", campaign: "summer" });
    expect(message.eventTimeMs).toBe(event.event_time);
    expect(JSON.stringify(app.queue.batches)).not.toMatch(/shopper@example\.com/i);
  });

  it("takes a batch with a Bearer key and answers per event", async () => {
    const app = ingestTestApp();
    const key = await createKey(uniqueTenant("web-batch"), ["ingest"]);
    const events = [
      websiteEvent("w-1"),
      websiteEvent("w-2", { event_time: "2001-01-01T00:00:00Z" }),
      websiteEvent("w-1"),
      websiteEvent("w-3", { event_source_url: "not a url" }),
      { ...websiteEvent("x"), event_id: undefined },
    ];
    const res = await app.fetch("/v1/events", {
      key,
      json: { events },
      headers: { "user-agent": UA },
    });
    expect(res.status).toBe(202);
    const body = eventsResponseSchema.parse(await res.json());
    expect(body.results.map((r) => r.status)).toEqual([
      "accepted",
      "rejected",
      "duplicate",
      "rejected",
      "accepted",
    ]);
    expect(body.results[1]?.errors?.[0]?.field).toBe("events.1.event_time");
    expect(body.results[3]?.errors?.[0]?.field).toBe("events.3.event_source_url");
    // No event_id: Driftline assigns one and says so.
    const assigned = body.results[4]?.eventId ?? "";
    expect(assigned).toMatch(/^[0-9a-f-]{36}$/);
    const messages = app.queue.messages.map((m) => eventMessageSchema.parse(m.value));
    expect(messages.map((m) => [m.eventId, m.eventIdAssigned])).toEqual([
      ["w-1", false],
      [assigned, true],
    ]);
  });

  it("answers CORS preflights and holds browser requests to the tenant's origins", async () => {
    const app = ingestTestApp({ TENANT_ORIGINS_CACHE_TTL_MS: 0 });
    const key = await createKey(uniqueTenant("cors"), ["ingest"], ["https://shop.example"]);

    const preflight = await app.fetch("/v1/events", {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(
      "authorization",
    );

    const from = (origin: string, event: unknown = websiteEvent(crypto.randomUUID())) =>
      app.fetch("/v1/events", { key, json: event, headers: { origin, "user-agent": UA } });

    let res = await from("https://shop.example");
    expect(res.status).toBe(202);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");

    res = await from("https://evil.example");
    expect(res.status).toBe(403);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/Origin https:\/\/evil\.example/);

    // Errors after the origin check still carry the CORS headers, so the page can read them.
    res = await from("https://shop.example", { events: [] });
    expect(res.status).toBe(400);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");

    // Servers (no Origin) are not subject to CORS.
    res = await app.fetch("/v1/events", {
      key,
      json: websiteEvent("srv-1"),
      headers: { "user-agent": UA },
    });
    expect(res.status).toBe(202);
    expect(app.queue.messages).toHaveLength(2);
  });

  it("refuses form bodies, missing keys and keys without the ingest role", async () => {
    const app = ingestTestApp();
    const adminKey = await createKey(uniqueTenant("web-auth"), ["admin", "score"]);
    const ingestKey = await createKey(uniqueTenant("web-auth"), ["ingest"]);
    expect((await app.fetch("/v1/events", { json: websiteEvent("n") })).status).toBe(401);
    expect((await app.fetch("/v1/events", { key: adminKey, json: websiteEvent("n") })).status).toBe(
      403,
    );
    const res = await app.fetch("/v1/events", {
      key: ingestKey,
      body: new URLSearchParams({ event_name: "x" }),
    });
    expect(res.status).toBe(415);
    expect(app.queue.messages).toHaveLength(0);
  });
});

describe("the deployed entry point", () => {
  it("queues through the real INGEST_QUEUE binding", async () => {
    const key = await createKey(uniqueTenant("entry"), ["ingest"]);
    const res = await worker.fetch("http://driftline.test/v1/events", {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "user-agent": UA,
      },
      body: JSON.stringify({ events: [websiteEvent("e-1"), websiteEvent("e-2")] }),
    });
    expect(res.status).toBe(202);
    expect((await json<{ accepted: number }>(res)).accepted).toBe(2);
  });

  it("documents both routes in /openapi.json", async () => {
    const res = await worker.fetch("http://driftline.test/openapi.json");
    const doc = await json<{
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown> }
        >
      >;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    }>(res);
    const web = doc.paths["/v1/events"]?.post;
    const capi = doc.paths["/v1/capi/{pixelId}/events"]?.post;
    expect(Object.keys(web?.requestBody?.content ?? {})).toEqual([
      "application/json",
      "text/plain",
    ]);
    expect(Object.keys(capi?.requestBody?.content ?? {})).toContain("multipart/form-data");
    expect(Object.keys(web?.responses ?? {})).toEqual(
      expect.arrayContaining(["202", "400", "401", "413", "415"]),
    );
    expect(doc.components.schemas).toHaveProperty("CapiRequest");
    expect(doc.components.schemas).toHaveProperty("WebsiteEventsRequest");
    expect(doc.components.schemas).toHaveProperty("EventsResponse");
    expect(doc.components.securitySchemes).toHaveProperty("accessToken");
  });
});
