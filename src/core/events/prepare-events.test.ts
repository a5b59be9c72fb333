import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  CLICK_ID_PARAMS,
  eventDedupKey,
  eventMessageSchema,
  UTM_PARAMS,
} from "./event-message-schema.ts";
import { buildEventsResponse, eventsResponseSchema } from "./events-response.ts";
import {
  type AcceptedEventCandidate,
  type PreparedEvent,
  type PrepareEventsInput,
  prepareEvents,
  type RejectedEvent,
} from "./prepare-events.ts";
import { parseUrlQueryAllowlist } from "./url-query-allowlist.ts";

const require = createRequire(import.meta.url);
const { ServerSideUtils } = require("facebook-nodejs-business-sdk") as {
  ServerSideUtils: { normalizeAndHash(input: string, field: string): string | null };
};
const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

const NOW_MS = Date.UTC(2024, 5, 10, 12, 0, 0); // 2024-06-10T12:00:00Z
const NOW_S = NOW_MS / 1000;
const DAY_S = 86_400;
const UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15";

function ids() {
  let n = 0;
  const calls: string[] = [];
  return {
    calls,
    newEventId: () => {
      n += 1;
      const id = `drift-${n}`;
      calls.push(id);
      return id;
    },
  };
}

function capi(body: unknown, extra: Partial<PrepareEventsInput> = {}) {
  return prepareEvents({
    tenant: "acme",
    source: "capi",
    pixelId: "1234567890",
    body,
    nowMs: NOW_MS,
    newEventId: ids().newEventId,
    ...extra,
  });
}

function web(body: unknown, extra: Partial<PrepareEventsInput> = {}) {
  return prepareEvents({
    tenant: "acme",
    source: "web",
    body,
    nowMs: NOW_MS,
    newEventId: ids().newEventId,
    ...extra,
  });
}

function accepted(result: PreparedEvent | undefined): AcceptedEventCandidate {
  if (result?.status !== "accepted") {
    throw new Error(`expected accepted, got ${JSON.stringify(result)}`);
  }
  return result;
}

function rejected(result: PreparedEvent | undefined): RejectedEvent {
  if (result?.status !== "rejected")
    throw new Error(`expected rejected, got ${JSON.stringify(result)}`);
  return result;
}

const websiteEvent = (overrides: Record<string, unknown> = {}) => ({
  event_name: "ViewContent",
  event_time: NOW_S - 60,
  action_source: "website",
  event_source_url: "https://shop.example/product/123",
  user_data: { client_user_agent: UA, client_ip_address: "203.0.113.7" },
  ...overrides,
});

/** Meta's server-event example, with every customer information parameter given raw. */
const META_EXAMPLE_RAW = {
  event_name: "Purchase",
  event_time: NOW_S - 120,
  event_id: "order-4711",
  action_source: "website",
  event_source_url: "http://jaspers-market.com/product/123?utm_source=facebook&utm_campaign=summer",
  opt_out: false,
  data_processing_options: [],
  user_data: {
    em: ["  Joe@Example.com "],
    ph: ["+1 (650) 555-1212"],
    fn: "Joe",
    ln: "Smith",
    db: "19970216",
    ge: "m",
    ct: "Menlo Park",
    st: "CA",
    zp: "94025-1234",
    country: "US",
    external_id: "crm-7781",
    client_ip_address: "123.123.123.123",
    client_user_agent: "$CLIENT_USER_AGENT",
    fbc: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
    fbp: "fb.1.1558571054389.1098115397",
    subscription_id: "sub-1",
    fb_login_id: "1234567890",
    lead_id: "9876543210123",
  },
  custom_data: {
    currency: "usd",
    value: 123.45,
    order_id: "order-4711",
    contents: [{ id: "product123", quantity: 1, delivery_category: "home_delivery" }],
  },
};

const RAW_PII = [
  "joe@example.com",
  "Joe@Example.com",
  "6505551212",
  "(650) 555-1212",
  "Menlo Park",
  "menlopark",
  "94025",
  "19970216",
  "crm-7781",
  "Smith",
  "smith",
];

describe("prepareEvents (CAPI)", () => {
  it("accepts Meta's documented event and hashes every contact field as the SDK does", async () => {
    const batch = await capi({ data: [META_EXAMPLE_RAW], test_event_code: "TEST123" });
    const result = accepted(batch.results[0]);
    const { message } = result;

    expect(eventMessageSchema.parse(message)).toEqual(message);
    expect(result.eventId).toBe("order-4711");
    expect(result.messageKey).toBe("acme:order-4711");
    // A test event: deduplicated among the events of its test code only.
    expect(result.dedupKey).toBe(
      eventDedupKey({
        tenant: "acme",
        eventName: "Purchase",
        eventId: "order-4711",
        testEventCode: "TEST123",
      }),
    );
    expect(batch.testEventCode).toBe("TEST123");

    const userData = message.event.user_data;
    const raw = META_EXAMPLE_RAW.user_data;
    const sdkHash = (field: string, value: string) =>
      ServerSideUtils.normalizeAndHash(value, field);
    expect(userData.em).toEqual([sdkHash("em", raw.em[0] ?? "")]);
    expect(userData.ph).toEqual([sdkHash("ph", raw.ph[0] ?? "")]);
    for (const field of [
      "fn",
      "ln",
      "db",
      "ge",
      "ct",
      "st",
      "zp",
      "country",
      "external_id",
    ] as const) {
      expect(userData[field], field).toEqual([sdkHash(field, raw[field])]);
    }
    // A few by hand, from the normalised text.
    expect(userData.em).toEqual([sha("joe@example.com")]);
    expect(userData.ph).toEqual([sha("16505551212")]);
    expect(userData.ct).toEqual([sha("menlopark")]);
    expect(userData.zp).toEqual([sha("94025")]);
    // Never hashed.
    expect(userData.client_ip_address).toBe("123.123.123.123");
    expect(userData.client_user_agent).toBe("$CLIENT_USER_AGENT");
    expect(userData.fbc).toBe(raw.fbc);
    expect(userData.fbp).toBe(raw.fbp);
    expect(userData.lead_id).toBe("9876543210123");

    expect(message).toMatchObject({
      schemaVersion: 1,
      tenant: "acme",
      source: "capi",
      pixelId: "1234567890",
      eventId: "order-4711",
      eventIdAssigned: false,
      eventName: "Purchase",
      eventTimeMs: (NOW_S - 120) * 1000,
      receivedAtMs: NOW_MS,
      actionSource: "website",
      value: 123.45,
      currency: "USD",
      campaign: "summer",
      utm: { source: "facebook", campaign: "summer" },
      clickIds: { fbclid: "AbCdEfGhIjKlMnOpQrStUvWxYz1234567890" },
      testEventCode: "TEST123",
      matchQuality: { score: 10 },
    });
    expect(message.event).toMatchObject({
      event_name: "Purchase",
      event_time: NOW_S - 120,
      event_id: "order-4711",
      action_source: "website",
      opt_out: false,
      data_processing_options: [],
      custom_data: { currency: "USD", value: 123.45, order_id: "order-4711" },
    });
  });

  it("puts no raw personal data anywhere in the message", async () => {
    const batch = await capi({ data: [META_EXAMPLE_RAW] });
    const json = JSON.stringify(accepted(batch.results[0]));
    for (const needle of RAW_PII) expect(json, needle).not.toContain(needle);
  });

  it("hashes email addresses found in free-form places: custom properties, URLs, utm values", async () => {
    // A deployment that lets `email` and `e` through its URL query allow-list.
    const options = { urlQueryAllowlist: parseUrlQueryAllowlist("email,e,utm_*") };
    const batch = await capi(
      {
        data: [
          {
            ...META_EXAMPLE_RAW,
            event_source_url:
              "https://shop.example/thanks?email=Jane%40Example.com&utm_content=jane@example.com",
            custom_data: { value: 10, currency: "usd", customer_email: "Jane@Example.com" },
          },
        ],
      },
      { options },
    );
    const { message } = accepted(batch.results[0]);
    const hashed = sha("jane@example.com");
    expect(message.event.custom_data?.customer_email).toBe(hashed);
    expect(new URL(message.event.event_source_url ?? "").searchParams.get("email")).toBe(hashed);
    expect(message.utm?.content).toBe(hashed);
    expect(JSON.stringify(batch).toLowerCase()).not.toContain("jane@example.com");
    const site = await web(
      websiteEvent({
        event_source_url: "https://shop.example/a?e=jane%40example.com",
        utm_term: "Jane@Example.com",
      }),
      { options },
    );
    const json = JSON.stringify(site).toLowerCase();
    expect(json).not.toContain("jane@example.com");
    expect(json).not.toContain("jane%40example.com");
  });

  it("rejects one bad event with field paths and accepts the rest", async () => {
    const batch = await capi({
      data: [
        websiteEvent({ event_id: "a" }),
        websiteEvent({
          event_id: "b",
          user_data: { client_user_agent: UA, em: ["ok@example.com", "not-an-email"], ph: "12" },
        }),
        websiteEvent({ event_id: "c" }),
      ],
    });
    expect(batch.results.map((r) => r.status)).toEqual(["accepted", "rejected", "accepted"]);
    expect(rejected(batch.results[1])).toEqual({
      index: 1,
      status: "rejected",
      eventId: "b",
      errors: [
        { field: "data.1.user_data.em.1", message: "is not a valid email address" },
        { field: "data.1.user_data.ph", message: expect.stringContaining("7 to 16 digits") },
      ],
    });
  });

  it("rejects an event holding text Postgres cannot store, naming where and not what", async () => {
    const batch = await capi({
      data: [
        websiteEvent({ event_id: "a", custom_data: { content_name: "x\ud800" } }),
        websiteEvent({ event_id: "b\udc00" }),
        websiteEvent({ event_id: "c", custom_data: { "brand\ud800": "x" } }),
        websiteEvent({ event_id: "d", event_name: "Lead\u0000" }),
        websiteEvent({ event_id: "e", custom_data: { content_name: "\ud83d\ude00" } }),
      ],
    });
    expect(batch.results.map((r) => r.status)).toEqual([
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "accepted",
    ]);
    expect(rejected(batch.results[0]).errors).toEqual([
      {
        field: "data.0.custom_data.content_name",
        message: expect.stringMatching(/lone UTF-16 surrogate.*send whole characters/),
      },
    ]);
    // The sender's id is not repeated when it is the bad text.
    expect(rejected(batch.results[1])).toMatchObject({
      eventId: null,
      errors: [{ field: "data.1.event_id" }],
    });
    expect(rejected(batch.results[2]).errors).toEqual([
      {
        field: "data.2.custom_data",
        message: expect.stringMatching(/^has a key that holds a lone/),
      },
    ]);
    expect(rejected(batch.results[3]).errors).toEqual([
      { field: "data.3.event_name", message: expect.stringMatching(/U\+0000/) },
    ]);
    await expect(
      capi({ data: [websiteEvent({ event_id: "a" })], test_event_code: "T\ud800" }),
    ).rejects.toMatchObject({ issues: [{ field: "test_event_code" }] });
  });

  it("names unknown user_data keys instead of silently dropping raw data", async () => {
    const batch = await capi({
      data: [websiteEvent({ user_data: { client_user_agent: UA, email: "joe@example.com" } })],
    });
    const { errors } = rejected(batch.results[0]);
    expect(errors).toEqual([
      {
        field: "data.0.user_data.email",
        message: expect.stringContaining("not a Meta customer information parameter"),
      },
    ]);
    expect(JSON.stringify(errors)).not.toContain("joe@example.com");
  });

  it("reports missing and malformed required fields", async () => {
    const batch = await capi({
      data: [
        { user_data: {} },
        { event_name: "Lead", event_time: "soon", action_source: "web" },
        7,
      ],
    });
    expect(rejected(batch.results[0]).errors).toEqual([
      { field: "data.0.event_name", message: "is required" },
      { field: "data.0.event_time", message: "is required" },
      { field: "data.0.action_source", message: "is required" },
    ]);
    expect(rejected(batch.results[1]).errors).toEqual([
      { field: "data.1.event_time", message: "must be a Unix timestamp in seconds (an integer)" },
      { field: "data.1.user_data", message: "is required" },
      {
        field: "data.1.action_source",
        message: expect.stringContaining("must be one of email, website"),
      },
    ]);
    expect(rejected(batch.results[2]).errors).toEqual([
      { field: "data.2", message: "must be a JSON object" },
    ]);
  });

  describe("what each action_source requires", () => {
    it("website: event_source_url and client_user_agent", async () => {
      const batch = await capi({
        data: [
          {
            event_name: "Lead",
            event_time: NOW_S,
            action_source: "website",
            user_data: { em: "joe@example.com" },
          },
        ],
      });
      expect(rejected(batch.results[0]).errors).toEqual([
        { field: "data.0.event_source_url", message: "is required for website events" },
        { field: "data.0.user_data.client_user_agent", message: "is required for website events" },
      ]);
    });

    it("app: app_data with advertiser_tracking_enabled and extinfo (a2 or i2)", async () => {
      const app = (app_data?: unknown) => ({
        event_name: "Purchase",
        event_time: NOW_S,
        action_source: "app",
        user_data: { anon_id: "XZ4F", madid: "38400000-8cf0-11bd-b23e-10b96e40000d" },
        custom_data: { value: 1, currency: "EUR" },
        ...(app_data === undefined ? {} : { app_data }),
      });
      const extinfo = ["i2", "com.example.app", "1.0", "1.0 long", "17.5", "iPhone15,2", "en_US"];
      const batch = await capi({
        data: [
          app(),
          app({ application_tracking_enabled: 1 }),
          app({ advertiser_tracking_enabled: 1, extinfo: ["x2", ...extinfo.slice(1)] }),
          app({ advertiser_tracking_enabled: 0, application_tracking_enabled: 1, extinfo }),
        ],
      });
      expect(rejected(batch.results[0]).errors).toEqual([
        { field: "data.0.app_data", message: "is required for app events" },
      ]);
      expect(rejected(batch.results[1]).errors.map((e) => e.field)).toEqual([
        "data.1.app_data.advertiser_tracking_enabled",
        "data.1.app_data.extinfo",
      ]);
      expect(rejected(batch.results[2]).errors).toEqual([
        { field: "data.2.app_data.extinfo.0", message: 'must be "a2" (Android) or "i2" (iOS)' },
      ]);
      const ok = accepted(batch.results[3]);
      expect(ok.message.event.app_data).toEqual({
        advertiser_tracking_enabled: 0,
        application_tracking_enabled: 1,
        extinfo,
      });
      expect(ok.message.matchQuality.signals).toEqual(["deviceId"]);
    });

    it("business_messaging: messaging_channel; physical_store and others: action_source only", async () => {
      const base = {
        event_name: "Lead",
        event_time: NOW_S,
        user_data: { ph: "+1 650 555 1212" },
      };
      const batch = await capi({
        data: [
          { ...base, action_source: "business_messaging" },
          { ...base, action_source: "business_messaging", messaging_channel: "whatsapp" },
          { ...base, action_source: "physical_store" },
          { ...base, action_source: "phone_call" },
          { ...base, action_source: "system_generated" },
        ],
      });
      expect(rejected(batch.results[0]).errors).toEqual([
        { field: "data.0.messaging_channel", message: expect.stringContaining("is required") },
      ]);
      expect(batch.results.slice(1).map((r) => r.status)).toEqual([
        "accepted",
        "accepted",
        "accepted",
        "accepted",
      ]);
    });
  });

  it("requires value and currency on Purchase events", async () => {
    const batch = await capi({
      data: [
        websiteEvent({ event_name: "Purchase" }),
        websiteEvent({
          event_name: "Purchase",
          custom_data: { value: "19.99", currency: " eur " },
        }),
      ],
    });
    expect(rejected(batch.results[0]).errors).toEqual([
      { field: "data.0.custom_data.value", message: "is required for Purchase events" },
      { field: "data.0.custom_data.currency", message: "is required for Purchase events" },
    ]);
    const ok = accepted(batch.results[1]).message;
    expect([ok.value, ok.currency]).toEqual([19.99, "EUR"]);
    expect(ok.event.custom_data).toEqual({ value: 19.99, currency: "EUR" });
  });

  describe("event_time window", () => {
    const at = (event_time: number | string) => websiteEvent({ event_time });

    it("accepts up to 7 days old and up to 5 minutes ahead; refuses beyond, saying why", async () => {
      const batch = await capi({
        data: [
          at(NOW_S - 7 * DAY_S),
          at(NOW_S - 7 * DAY_S - 1),
          at(NOW_S + 300),
          at(NOW_S + 301),
          at(String(NOW_S - 10)),
          at(NOW_MS),
        ],
      });
      expect(batch.results.map((r) => r.status)).toEqual([
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
        "rejected",
      ]);
      expect(rejected(batch.results[1]).errors).toEqual([
        {
          field: "data.1.event_time",
          message: expect.stringMatching(/7 days old; .*older than 7 days/),
        },
      ]);
      expect(rejected(batch.results[3]).errors).toEqual([
        { field: "data.3.event_time", message: expect.stringContaining("in the future") },
      ]);
      expect(rejected(batch.results[5]).errors).toEqual([
        { field: "data.5.event_time", message: expect.stringContaining("looks like milliseconds") },
      ]);
      expect(accepted(batch.results[4]).message.eventTimeMs).toBe((NOW_S - 10) * 1000);
    });

    it("takes the window from the options and the clock from nowMs", async () => {
      const batch = await capi(
        { data: [at(NOW_S + 60), at(NOW_S - 3600)] },
        { options: { maxFutureSkewMs: 30_000, maxAgeMs: 1_800_000 } },
      );
      expect(batch.results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      const later = await capi({ data: [at(NOW_S - 7 * DAY_S)] }, { nowMs: NOW_MS + 1000 });
      expect(later.results[0]?.status).toBe("rejected");
    });
  });

  it("assigns event ids only to accepted events that lack one", async () => {
    const generator = ids();
    const batch = await capi(
      {
        data: [
          websiteEvent(),
          websiteEvent({ event_id: 42 }),
          websiteEvent({ user_data: {} }),
          websiteEvent(),
        ],
      },
      { newEventId: generator.newEventId },
    );
    expect(generator.calls).toEqual(["drift-1", "drift-2"]);
    expect(batch.results.map((r) => [r.status, r.eventId])).toEqual([
      ["accepted", "drift-1"],
      ["accepted", "42"],
      ["rejected", null],
      ["accepted", "drift-2"],
    ]);
    expect(accepted(batch.results[0]).message.eventIdAssigned).toBe(true);
    expect(accepted(batch.results[1]).message.eventIdAssigned).toBe(false);
  });

  it("reads the sender's event_id even from an event it rejects", async () => {
    const batch = await capi({ data: [{ event_id: "evt-9", event_name: "Lead" }] });
    expect(rejected(batch.results[0]).eventId).toBe("evt-9");
  });

  it("rejects an event whose message would be too large for the queue", async () => {
    const big = websiteEvent({ custom_data: { notes: "x".repeat(2000) } });
    const batch = await capi(
      { data: [big, websiteEvent()] },
      { options: { maxMessageBytes: 1500 } },
    );
    expect(rejected(batch.results[0]).errors).toEqual([
      {
        field: "data.0",
        message: expect.stringMatching(/^is \d+ bytes once normalised; at most 1500/),
      },
    ]);
    expect(batch.results[1]?.status).toBe("accepted");
  });

  it("throws a ValidationError when the body is not a CAPI request", async () => {
    const cases: [unknown, string][] = [
      [null, "body"],
      [[], "body"],
      [{}, "data"],
      [{ data: [] }, "data"],
      [{ data: "x" }, "data"],
      [{ data: Array.from({ length: 1001 }, () => ({})) }, "data"],
      [{ data: [{}], test_event_code: 5 }, "test_event_code"],
    ];
    for (const [body, field] of cases) {
      const error = await capi(body).catch((e: unknown) => e);
      expect(error, JSON.stringify(body)?.slice(0, 40)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.field)).toContain(field);
    }
  });

  it("handles 1000 events", async () => {
    const data = Array.from({ length: 1000 }, (_, i) =>
      websiteEvent({
        event_id: `e${i}`,
        user_data: { client_user_agent: UA, em: `user${i}@example.com` },
      }),
    );
    const batch = await capi({ data });
    expect(batch.results).toHaveLength(1000);
    expect(batch.results.every((r) => r.status === "accepted")).toBe(true);
    expect(accepted(batch.results[999]).message.event.user_data.em).toEqual([
      sha("user999@example.com"),
    ]);
  });

  it("is deterministic", async () => {
    const a = await capi({ data: [META_EXAMPLE_RAW, websiteEvent()] });
    const b = await capi({ data: [META_EXAMPLE_RAW, websiteEvent()] });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe("prepareEvents (website)", () => {
  const beacon = (overrides: Record<string, unknown> = {}) => ({
    event_name: "PageView",
    event_time: NOW_MS - 5_000,
    event_source_url:
      "https://shop.example/landing?utm_source=meta&utm_medium=paid&utm_campaign=june&fbclid=IwAR2xyz&gclid=Cj0K",
    ...overrides,
  });
  const context = { clientIpAddress: "198.51.100.23", userAgent: UA };

  it("reads event_time as seconds, milliseconds or a zoned ISO date-time", async () => {
    const t = NOW_MS - 90_000;
    const batch = await web(
      {
        events: [
          beacon({ event_time: t / 1000 }),
          beacon({ event_time: t }),
          beacon({ event_time: new Date(t).toISOString() }),
          beacon({ event_time: "2024-06-10T13:58:30+02:00" }),
          beacon({ event_time: (t + 250) / 1000 }),
          beacon({ event_time: "2024-06-10T11:58:30" }),
        ],
      },
      { requestContext: context },
    );
    const times = batch.results.slice(0, 5).map((r) => accepted(r).message.eventTimeMs);
    expect(times).toEqual([t, t, t, t, t + 250]);
    expect(accepted(batch.results[0]).message.event.event_time).toBe(t / 1000);
    expect(rejected(batch.results[5]).errors).toEqual([
      { field: "events.5.event_time", message: expect.stringContaining("with a zone") },
    ]);
  });

  it("fills ip and user agent from the request, derives fbc from fbclid and reads utm and click ids", async () => {
    const batch = await web(beacon({ prediction_id: "pred-123" }), { requestContext: context });
    const { message } = accepted(batch.results[0]);
    expect(eventMessageSchema.parse(message)).toEqual(message);
    expect(message).toMatchObject({
      source: "web",
      actionSource: "website",
      campaign: "june",
      utm: { source: "meta", medium: "paid", campaign: "june" },
      clickIds: { fbclid: "IwAR2xyz", gclid: "Cj0K" },
      predictionId: "pred-123",
      matchQuality: { score: 3, signals: ["clickId", "ip", "userAgent"] },
    });
    expect(message.pixelId).toBeUndefined();
    expect(message.event.user_data).toEqual({
      client_ip_address: "198.51.100.23",
      client_user_agent: UA,
      fbc: `fb.1.${NOW_MS - 5_000}.IwAR2xyz`,
    });
  });

  it("prefers what the event says over the request and the URL", async () => {
    const batch = await web(
      beacon({
        campaign: "spring-sale",
        utm_source: "newsletter",
        fbclid: "explicit",
        user_data: {
          client_ip_address: "203.0.113.9",
          client_user_agent: "Beacon/1.0",
          fbc: "fb.1.1700000000000.cookie",
        },
      }),
      { requestContext: context },
    );
    const { message } = accepted(batch.results[0]);
    expect(message.campaign).toBe("spring-sale");
    expect(message.utm).toEqual({ source: "newsletter", medium: "paid", campaign: "june" });
    expect(message.clickIds?.fbclid).toBe("explicit");
    expect(message.event.user_data).toEqual({
      client_ip_address: "203.0.113.9",
      client_user_agent: "Beacon/1.0",
      fbc: "fb.1.1700000000000.cookie",
    });
  });

  it.each([
    "https://shop.example/p?utm_source=a&utm_source=b&gclid=&fbclid",
    "https://shop.example/p?&&utm_medium=x=y&utm_campaign==lead&utm_term",
    "https://shop.example/p?utm_campaign=%E6%97%A5%E6%9C%AC&utm_source=a+b&fbclid=%zz",
    'https://shop.example/p?utm_campaign=summer sale&utm_content=日本&utm_id="q"#utm_term=frag',
    "https://shop.example/p?UTM_SOURCE=upper&utm_source=%20padded%20&ttclid=t1&msclkid=m1",
    "https://shop.example/p?",
    `https://shop.example/p?utm_source=${"s".repeat(513)}&utm_medium=${"m".repeat(512)}`,
  ])("reads utm and click ids from %s as URLSearchParams would", async (url) => {
    const batch = await web(beacon({ event_source_url: url }), { requestContext: context });
    const { message } = accepted(batch.results[0]);
    const params = new URL(url).searchParams;
    const read = (name: string) => {
      const value = params.get(name)?.trim();
      return value && value.length <= 512 ? value : undefined;
    };
    const expected = (names: readonly string[], prefix = "") =>
      Object.fromEntries(
        names.flatMap((n) => (read(prefix + n) === undefined ? [] : [[n, read(prefix + n)]])),
      );
    expect(message.utm ?? {}).toEqual(expected(UTM_PARAMS, "utm_"));
    expect(message.clickIds ?? {}).toEqual(expected(CLICK_ID_PARAMS));
  });

  it("needs a user agent from the event or the request; ignores a malformed request ip", async () => {
    const withoutUa = await web(beacon());
    expect(rejected(withoutUa.results[0]).errors).toEqual([
      { field: "user_data.client_user_agent", message: "is required for website events" },
    ]);
    const badIp = await web(beacon(), {
      requestContext: { clientIpAddress: "not-an-ip", userAgent: UA },
    });
    expect(accepted(badIp.results[0]).message.event.user_data.client_ip_address).toBeUndefined();
  });

  it("hashes raw contact data from the page and keeps it out of the message", async () => {
    const batch = await web(
      {
        events: [
          beacon({
            event_name: "Lead",
            user_data: { em: "Joe@Example.com", ph: "(650) 555-1212", fn: "Joe", zp: "94025" },
          }),
        ],
      },
      { requestContext: context },
    );
    const { message } = accepted(batch.results[0]);
    expect(message.event.user_data.em).toEqual([sha("joe@example.com")]);
    // A US number without its country code normalises to 10 digits, exactly as in the SDK.
    expect(message.event.user_data.ph).toEqual([
      ServerSideUtils.normalizeAndHash("(650) 555-1212", "ph"),
    ]);
    const json = JSON.stringify(batch);
    for (const needle of RAW_PII) expect(json, needle).not.toContain(needle);
  });

  it("refuses other action sources and unknown shapes with field paths", async () => {
    const batch = await web(
      {
        events: [beacon({ action_source: "app" }), beacon({ event_source_url: "ftp://x/y" }), "x"],
      },
      { requestContext: context },
    );
    expect(batch.results.map((r) => (r.status === "rejected" ? r.errors : []))).toEqual([
      [{ field: "events.0.action_source", message: 'must be "website" (or left out)' }],
      [{ field: "events.1.event_source_url", message: "must be an absolute http(s) URL" }],
      [{ field: "events.2", message: "must be a JSON object" }],
    ]);
  });

  it("throws a ValidationError for a body that is neither an event nor a batch", async () => {
    for (const body of [[beacon()], "x", { events: [] }, { events: {} }]) {
      await expect(web(body)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it("shares the dedup identity with a CAPI copy of the same action", async () => {
    const fromPage = await web(beacon({ event_name: "Lead", event_id: "lead-1" }), {
      requestContext: context,
    });
    const fromServer = await capi({
      data: [websiteEvent({ event_name: "Lead", event_id: "lead-1" })],
    });
    expect(accepted(fromPage.results[0]).dedupKey).toBe(accepted(fromServer.results[0]).dedupKey);
  });
  it("rejects an event whose URL query decodes to U+0000 in a value it keeps", async () => {
    const batch = await web({
      events: [
        {
          event_name: "Lead",
          event_time: NOW_MS,
          event_source_url: "https://shop.example/?utm_campaign=a%00b",
          user_data: { client_user_agent: UA, fbp: "fb.1.1.1" },
        },
        {
          event_name: "Lead",
          event_time: NOW_MS,
          event_source_url: "https://shop.example/?gclid=%00&other=%00",
          user_data: { client_user_agent: UA, fbp: "fb.1.1.1" },
        },
        {
          event_name: "Lead",
          event_time: NOW_MS,
          event_source_url: "https://shop.example/?utm_campaign=caf%C3%A9&other=%00",
          user_data: { client_user_agent: UA, fbp: "fb.1.1.1" },
        },
      ],
    });
    expect(rejected(batch.results[0]).errors).toEqual([
      {
        field: "events.0.event_source_url",
        message: expect.stringMatching(/^has the query parameter utm_campaign that holds U\+0000/),
      },
    ]);
    expect(rejected(batch.results[1]).errors).toEqual([
      {
        field: "events.1.event_source_url",
        message: expect.stringMatching(/^has the query parameter gclid that holds U\+0000/),
      },
    ]);
    // A parameter Driftline does not read is not its concern.
    expect(batch.results[2]?.status).toBe("accepted");
  });

  it("rejects a website event holding a lone surrogate", async () => {
    const batch = await web({
      event_name: "Lead",
      event_time: NOW_MS,
      event_source_url: "https://shop.example/?utm_campaign=x",
      user_data: { client_user_agent: UA, fbp: "fb.1.1.1" },
      campaign: "\udbff",
    });
    expect(rejected(batch.results[0]).errors).toEqual([
      { field: "campaign", message: expect.stringMatching(/lone UTF-16 surrogate/) },
    ]);
  });
});

describe("buildEventsResponse", () => {
  it("counts accepted, duplicates and rejected in request order", async () => {
    const batch = await capi({
      data: [websiteEvent({ event_id: "a" }), websiteEvent({ event_id: "b" }), { event_id: "c" }],
    });
    const response = buildEventsResponse(batch.results, new Set([1]));
    expect(eventsResponseSchema.parse(response)).toEqual(response);
    expect(response).toEqual({
      accepted: 1,
      duplicates: 1,
      rejected: 1,
      results: [
        { index: 0, status: "accepted", eventId: "a" },
        { index: 1, status: "duplicate", eventId: "b" },
        { index: 2, status: "rejected", eventId: "c", errors: expect.any(Array) },
      ],
    });
  });
});
