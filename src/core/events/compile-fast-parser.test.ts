import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createRandom } from "../random/prng.ts";
import { capiServerEventSchema, httpUrlSchema } from "./capi-event-schema.ts";
import { compileFastParser, UNSURE } from "./compile-fast-parser.ts";
import { websiteEventSchema } from "./website-event-schema.ts";
import { missingIsRequired } from "./zod-issues.ts";

// The fast parser must agree with zod: on every input it either answers exactly what zod's
// safeParse answers (same values, same key order, compared as JSON text) or says UNSURE. It must
// never accept what zod refuses. It must not be unsure about ordinary valid events either, or the
// fast path silently stops paying off.

const capiFast = compileFastParser(capiServerEventSchema);
const webFast = compileFastParser(websiteEventSchema);

/** zod's verdict and the fast parser's, as comparable text. */
function both(schema: z.ZodType, fast: (input: unknown) => unknown, input: unknown) {
  const zod = schema.safeParse(input, { error: missingIsRequired });
  const out = fast(input);
  return {
    zodOk: zod.success,
    zodJson: zod.success ? JSON.stringify(zod.data) : null,
    fastUnsure: out === UNSURE,
    fastJson: out === UNSURE ? null : JSON.stringify(out),
  };
}

function expectAgreement(schema: z.ZodType, fast: (input: unknown) => unknown, input: unknown) {
  const r = both(schema, fast, input);
  if (!r.fastUnsure) {
    expect(r.zodOk, `fast accepted what zod refuses: ${JSON.stringify(input)}`).toBe(true);
    expect(r.fastJson).toBe(r.zodJson);
  }
  return r;
}

const NOW_S = 1_718_020_800;
const UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0";

const capiEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_name: "Purchase",
  event_time: NOW_S - 60,
  event_id: "order-1",
  event_source_url: "https://shop.example/checkout?utm_source=meta&utm_campaign=summer",
  action_source: "website",
  user_data: {
    em: "Customer@Example.com",
    ph: ["+1 (650) 555-1212", "16505551213"],
    fn: "Mary",
    ln: "Jones",
    db: "19850412",
    ge: "f",
    ct: "San Francisco",
    st: "CA",
    zp: "94107-1234",
    country: "US",
    external_id: [12345, "cust-1"],
    f5first: "maryj",
    f5last: "jones",
    fi: "m",
    dobd: "12",
    dobm: "4",
    doby: "1985",
    app_user_id: "app-1",
    client_ip_address: "203.0.113.50",
    client_user_agent: UA,
    fbc: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
    fbp: "fb.1.1558571054389.1098115397",
    subscription_id: "sub-1",
    fb_login_id: 1234567890,
    lead_id: "9876543210123",
    anon_id: "anon-1",
    madid: "38400000-8cf0-11bd-b23e-10b96e40000d",
    page_id: "3000789",
    page_scoped_user_id: 4000987,
    ctwa_clid: "ctwa-1",
    ig_account_id: "5000654",
    ig_sid: "ig-1",
  },
  custom_data: {
    value: "49.90",
    currency: " usd ",
    content_name: "Shoes",
    content_category: "Apparel",
    content_ids: ["sku-1", 2],
    contents: [
      { id: "sku-1", quantity: 1, item_price: 49.9, title: "Shoe", extra: { nested: true } },
      { id: 2, item_price: "10.5", delivery_category: "curbside" },
    ],
    content_type: "product",
    order_id: 4711,
    predicted_ltv: 100,
    net_revenue: "12",
    num_items: "3",
    search_string: "shoes",
    status: "paid",
    item_number: "A-1",
    delivery_category: "home_delivery",
    prediction_id: "pred-1",
    custom_property: ["kept", 1],
  },
  opt_out: false,
  data_processing_options: ["LDU"],
  data_processing_options_country: 1,
  data_processing_options_state: 1000,
  referrer_url: "http://referrer.example/",
  customer_segmentation: { priority_segment: "high", nested: { a: [1, 2] } },
  attribution_data: { attribution_share: "0.5" },
  messaging_channel: "whatsapp",
  advanced_measurement_table: "amt",
  advertiser_tracking_enabled: true,
  unknown_top_level: "dropped",
  ...overrides,
});

const appEvent = capiEvent({
  action_source: "app",
  app_data: {
    advertiser_tracking_enabled: 1,
    application_tracking_enabled: false,
    extinfo: ["a2", "com.example", "1.0", "1.0.1", "14", "Pixel", "en_US", "GMT", "", 1080],
    campaign_ids: "c-1",
    install_referrer: "ref",
    installer_package: "pkg",
    url_schemes: ["example"],
    vendor_id: "v",
    windows_attribution_id: "w",
    unknown_app_key: 7,
  },
  original_event_data: {
    event_name: "Purchase",
    event_time: String(NOW_S - 3600),
    order_id: "o-1",
    event_id: "e-0",
    extra: 1,
  },
});

const webEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_name: "AddToCart",
  event_time: "2024-06-10T08:30:00+02:00",
  event_id: 42,
  event_source_url: "https://shop.example/p/1?fbclid=IwAR1",
  referrer_url: "https://google.example/",
  action_source: "website",
  user_data: { em: ["a@example.com", "b@example.com"], client_ip_address: "2001:db8::1" },
  custom_data: { value: 19.99, currency: "EUR" },
  opt_out: true,
  campaign: "summer",
  utm_source: "meta",
  utm_medium: "paid",
  utm_campaign: "summer",
  utm_term: "shoes",
  utm_content: "ad-1",
  utm_id: "42",
  prediction_id: "pred-1",
  fbclid: "IwAR1",
  gclid: "g",
  gbraid: "gb",
  wbraid: "wb",
  msclkid: "ms",
  ttclid: "tt",
  ...overrides,
});

const VALID_CAPI: [string, unknown][] = [
  ["every parameter", capiEvent()],
  ["app event with app_data and original_event_data", appEvent],
  [
    "minimal",
    {
      event_name: "Lead",
      event_time: NOW_S,
      action_source: "system_generated",
      user_data: { em: "a@b.co" },
    },
  ],
  ["event_time as digits", capiEvent({ event_time: String(NOW_S) })],
  ["numeric event_id", capiEvent({ event_id: 0 })],
  // The URL schema trims and drops tabs/newlines: the output differs from the input.
  ["URL with spaces and a tab", capiEvent({ event_source_url: "  https://shop.example/a\tb  " })],
  [
    "IPv6 address",
    capiEvent({ user_data: { client_ip_address: "::ffff:192.0.2.1", fbp: "fb.1.2.3" } }),
  ],
  // zod counts code points: 256 emoji are 512 UTF-16 units but 256 characters.
  ["256 emoji as event_name", capiEvent({ event_name: "😀".repeat(256) })],
  ["512 emoji as user_data.em", capiEvent({ user_data: { em: "😀".repeat(512) } })],
  ["50 values in a list", capiEvent({ user_data: { em: Array(50).fill("x@y.z") } })],
  [
    "unsafe-looking keys in custom data",
    capiEvent({ custom_data: { constructor: 1, toString: "x" } }),
  ],
  ["empty data_processing_options", capiEvent({ data_processing_options: [] })],
  ["null-prototype object", Object.assign(Object.create(null), capiEvent())],
];

const VALID_WEB: [string, unknown][] = [
  ["every field", webEvent()],
  ["millisecond time", webEvent({ event_time: 1_718_020_800_000 })],
  ["fractional seconds", webEvent({ event_time: 1_718_020_800.25 })],
  ["no user_data", webEvent({ user_data: undefined, action_source: undefined })],
].map(([name, e]) => [name as string, JSON.parse(JSON.stringify(e))]);

describe("compileFastParser on the event schemas", () => {
  it("compiles both event schemas without handing any part to zod's runtime", () => {
    expect(capiFast.islands).toEqual([]);
    expect(webFast.islands).toEqual([]);
  });

  it.each(VALID_CAPI)("answers exactly as zod for a valid CAPI event: %s", (_, input) => {
    const r = expectAgreement(capiServerEventSchema, capiFast.parse, input);
    expect(r.zodOk).toBe(true);
    expect(r.fastUnsure).toBe(false);
  });

  it.each(VALID_WEB)("answers exactly as zod for a valid website event: %s", (_, input) => {
    const r = expectAgreement(websiteEventSchema, webFast.parse, input);
    expect(r.zodOk).toBe(true);
    expect(r.fastUnsure).toBe(false);
  });

  const INVALID_CAPI: [string, unknown][] = [
    ["not an object", "event"],
    ["an array", [capiEvent()]],
    ["null", null],
    ["event_name missing", capiEvent({ event_name: undefined })],
    ["event_name empty", capiEvent({ event_name: "" })],
    ["event_name 257 characters", capiEvent({ event_name: "x".repeat(257) })],
    ["257 emoji", capiEvent({ event_name: "😀".repeat(257) })],
    ["event_time negative", capiEvent({ event_time: -1 })],
    ["event_time fractional", capiEvent({ event_time: NOW_S + 0.5 })],
    ["event_time 13 digits", capiEvent({ event_time: "1718020800000" })],
    ["event_time unsafe integer", capiEvent({ event_time: 2 ** 53 })],
    ["event_time NaN", capiEvent({ event_time: Number.NaN })],
    ["event_time Infinity", capiEvent({ event_time: Number.POSITIVE_INFINITY })],
    ["action_source unknown", capiEvent({ action_source: "web" })],
    ["URL without scheme", capiEvent({ event_source_url: "shop.example/a" })],
    ["ftp URL", capiEvent({ event_source_url: "ftp://shop.example/a" })],
    ["http: without slashes", capiEvent({ event_source_url: "http:shop.example" })],
    ["URL too long", capiEvent({ event_source_url: `https://a.example/${"x".repeat(8200)}` })],
    ["unknown user_data key", capiEvent({ user_data: { email: "a@b.co" } })],
    ["user_data not an object", capiEvent({ user_data: "a@b.co" })],
    ["em too long", capiEvent({ user_data: { em: "x".repeat(513) } })],
    ["em empty list", capiEvent({ user_data: { em: [] } })],
    ["em 51 values", capiEvent({ user_data: { em: Array(51).fill("x@y.z") } })],
    ["em number", capiEvent({ user_data: { em: 5 } })],
    ["external_id fraction", capiEvent({ user_data: { external_id: 1.5 } })],
    ["bad IPv4", capiEvent({ user_data: { client_ip_address: "256.1.1.1" } })],
    ["IP with port", capiEvent({ user_data: { client_ip_address: "203.0.113.1:80" } })],
    ["bad fbc", capiEvent({ user_data: { fbc: "fb.1.x.y" } })],
    ["lead_id negative", capiEvent({ user_data: { lead_id: -1 } })],
    ["currency of 4 letters", capiEvent({ custom_data: { currency: "EURO" } })],
    ["value text", capiEvent({ custom_data: { value: "ten" } })],
    ["contents without id", capiEvent({ custom_data: { contents: [{ quantity: 1 }] } })],
    [
      "contents negative quantity",
      capiEvent({ custom_data: { contents: [{ id: 1, quantity: -1 }] } }),
    ],
    ["delivery_category unknown", capiEvent({ custom_data: { delivery_category: "drone" } })],
    ["num_items fraction", capiEvent({ custom_data: { num_items: 1.5 } })],
    ["data_processing_options other", capiEvent({ data_processing_options: ["GDPR"] })],
    ["opt_out string", capiEvent({ opt_out: "false" })],
    ["customer_segmentation array", capiEvent({ customer_segmentation: [1] })],
    ["extinfo short", capiEvent({ app_data: { extinfo: ["a2"] } })],
    ["flag 2", capiEvent({ app_data: { advertiser_tracking_enabled: 2 } })],
    ["original_event_data without name", capiEvent({ original_event_data: { event_time: 1 } })],
  ];

  it.each(INVALID_CAPI)("is unsure where zod refuses a CAPI event: %s", (_, input) => {
    const r = expectAgreement(capiServerEventSchema, capiFast.parse, input);
    expect(r.zodOk).toBe(false);
    expect(r.fastUnsure).toBe(true);
  });

  const INVALID_WEB: [string, unknown][] = [
    ["time without zone", webEvent({ event_time: "2024-06-10T08:30:00" })],
    ["time zero", webEvent({ event_time: 0 })],
    ["no URL", webEvent({ event_source_url: undefined })],
    ["action_source app", webEvent({ action_source: "app" })],
    ["empty campaign", webEvent({ campaign: "" })],
    ["long gclid", webEvent({ gclid: "g".repeat(513) })],
  ];

  it.each(INVALID_WEB)("is unsure where zod refuses a website event: %s", (_, input) => {
    const r = expectAgreement(websiteEventSchema, webFast.parse, input);
    expect(r.zodOk).toBe(false);
    expect(r.fastUnsure).toBe(true);
  });

  it("leaves what it does not model to zod: explicit undefined, class instances, __proto__", () => {
    class Event {
      event_name = "Lead";
      event_time = NOW_S;
      action_source = "other";
      user_data = { em: "a@b.co" };
    }
    const cases = [
      capiEvent({ opt_out: undefined }),
      new Event(),
      JSON.parse(
        '{"event_name":"Lead","event_time":1,"action_source":"other","user_data":{},"custom_data":{"__proto__":{"x":1}}}',
      ),
    ];
    for (const input of cases) {
      expect(capiFast.parse(input)).toBe(UNSURE);
      expectAgreement(capiServerEventSchema, capiFast.parse, input);
    }
  });
});

/** Seeded uniform numbers in [0, 1), so a failing run can be replayed. */
const random = (seed: number): (() => number) => createRandom(seed).next;

const ODD_VALUES: unknown[] = [
  "",
  " ",
  "x",
  "😀",
  "\ud800",
  "x".repeat(256),
  "x".repeat(257),
  "😀".repeat(257),
  "x".repeat(513),
  "https://a.example/",
  " http://a.example/\n",
  "ftp://a.example/",
  "203.0.113.7",
  "::1",
  "fb.1.2.3",
  "LDU",
  "usd",
  "1.5",
  "12",
  "a2",
  "2024-06-10T08:30:00Z",
  0,
  1,
  -1,
  1.5,
  1e11,
  2 ** 53,
  Number.NaN,
  true,
  false,
  null,
  [],
  [""],
  ["x", 1],
  Array(51).fill("x"),
  {},
  { id: 1 },
  { nested: { deep: [1] } },
];

/** Replaces, removes or adds one value somewhere inside a copy of `event`. */
function mutate(event: unknown, rand: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(event));
  const containers: (Record<string, unknown> | unknown[])[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "object" && v !== null) {
      containers.push(v as Record<string, unknown>);
      for (const child of Object.values(v)) walk(child);
    }
  };
  walk(copy);
  const target = containers[Math.floor(rand() * containers.length)] as Record<string, unknown>;
  const keys = Object.keys(target);
  const odd = ODD_VALUES[Math.floor(rand() * ODD_VALUES.length)];
  const roll = rand();
  if (roll < 0.15 && keys.length > 0) {
    delete target[keys[Math.floor(rand() * keys.length)] as string];
  } else if (roll < 0.25) {
    target[Array.isArray(target) ? target.length : `extra_${Math.floor(rand() * 3)}`] = odd;
  } else if (keys.length > 0) {
    target[keys[Math.floor(rand() * keys.length)] as string] = odd;
  }
  return copy;
}

describe("compileFastParser against zod on seeded random variations", () => {
  it.each([
    ["CAPI", capiServerEventSchema, capiFast.parse, [capiEvent(), appEvent]],
    ["website", websiteEventSchema, webFast.parse, [webEvent()]],
  ] as const)(
    "%s events: never accepts what zod refuses, else answers the same",
    (_, schema, fast, seeds) => {
      const rand = random(20240610);
      let agreedValid = 0;
      let zodValid = 0;
      for (let i = 0; i < 3000; i++) {
        let input: unknown = seeds[i % seeds.length];
        const mutations = 1 + Math.floor(rand() * 3);
        for (let m = 0; m < mutations; m++) input = mutate(input, rand);
        const r = expectAgreement(schema as z.ZodType, fast, input);
        if (r.zodOk) zodValid += 1;
        if (r.zodOk && !r.fastUnsure) agreedValid += 1;
      }
      // The mutations produce plenty of both verdicts, and every JSON input zod accepts is also
      // accepted by the fast parser (JSON has no undefined values or class instances).
      expect(zodValid).toBeGreaterThan(300);
      expect(agreedValid).toBe(zodValid);
    },
  );
});

describe("compileFastParser on small schemas", () => {
  it("takes the first union option that accepts, like zod, when options overlap", () => {
    const schema = z.union([z.ipv4(), z.string().max(3), z.string()]);
    const fast = compileFastParser(schema);
    expect(fast.islands).toEqual([]);
    for (const input of ["1.2.3.4", "abc", "abcdef", 5]) expectAgreement(schema, fast.parse, input);
  });

  it("runs schema kinds it does not model through zod itself (an island), still exactly", () => {
    const schema = z.object({ when: z.date(), n: z.number().transform((n) => n * 2) });
    const fast = compileFastParser(schema);
    expect(fast.islands.length).toBeGreaterThan(0);
    const input = { when: new Date(0), n: 2 };
    expect(fast.parse(input)).toEqual(schema.parse(input));
    expect(fast.parse({ when: "x", n: 2 })).toBe(UNSURE);
  });

  it("keeps unknown keys of loose objects after the known ones, in input order", () => {
    const schema = z.looseObject({ a: z.number(), b: z.number().optional() });
    const fast = compileFastParser(schema);
    const input = { z: 1, b: 2, y: 3, a: 4 };
    expect(JSON.stringify(fast.parse(input))).toBe(JSON.stringify(schema.parse(input)));
  });
});

describe("compileFastParser on http(s) URLs", () => {
  const searches: { text: string; search: string }[] = [];
  const urlFast = compileFastParser(httpUrlSchema, {
    onUrl: (text, search) => searches.push({ text, search }),
  });

  /** Agrees with zod, and every query it reports is what the URL API says. */
  function expectUrlAgreement(input: string) {
    searches.length = 0;
    const r = expectAgreement(httpUrlSchema, urlFast.parse, input);
    if (!r.fastUnsure) {
      expect(searches).toHaveLength(1);
      const { text, search } = searches[0]!;
      expect(JSON.stringify(text)).toBe(r.fastJson);
      expect(search, input).toBe(new URL(text).search);
    }
    return r;
  }

  const PIECES = {
    scheme: ["https", "http", "HTTPS", "hTtP", "ftp", "file", "httpx", "ws"],
    separator: ["://", "://", "://", ":/", ":", ":///", "://user:pw@", "://@"],
    host: [
      "shop.example",
      "SHOP.Example",
      "a",
      "a_b.example",
      "-a-.example",
      "shop.example.",
      "a..b",
      ".",
      "",
      "1.2.3.4",
      "1.2.3.999",
      "0x7f.1",
      "256.1.1.1",
      "example.1",
      "example.01",
      "1e3",
      "09",
      "xn--nxasmq6b.example",
      "xn--a.example",
      "xn--.example",
      `${"x".repeat(70)}.example`,
      "[::1]",
      "[1::2::3]",
      "exa mple",
      "ex%41mple",
      "ex%00mple",
      "ümlaut.example",
      "a\\b",
    ],
    port: ["", "", ":", ":0", ":80", ":0443", ":65535", ":65536", ":99999", ":123456", ":8a"],
    path: [
      "",
      "/",
      "/checkout/42",
      "/a//b",
      "/.",
      "/./x",
      "/../x",
      "/a/..",
      "/a/.b",
      "/%2e/x",
      "/%2E%2e/",
      "/a%20b",
      "/a\\b",
      "/a b",
      "/a'b",
      '/a"b',
      "/a<b>",
      "/a`b",
      "/a{b}",
      "/é",
      "/a;b=c,d",
      "/a:b@c",
      "/(x)*!$&+~",
      "/.well-known",
      "//x",
    ],
    query: [
      "",
      "?",
      "??a=b",
      "?utm_source=meta&utm_campaign=summer",
      "?fbclid=IwAR1&gclid=x",
      "?a=b%20c",
      "?a=b+c",
      "?a=%zz",
      "?a='x'",
      "?a=<b>",
      '?a="b"',
      "?a=b c",
      "?a=é",
      "?a=b?c/d:e@f",
      "?a=`b`{c}|d^",
      "?&&=&",
    ],
    fragment: ["", "", "#", "#x", "#a b", "#?utm_source=x", "#é", "#a#b", "#\u0001"],
    wrapper: ["", "", "", " ", "\t", "\n ", "\u00a0"],
  };

  it("agrees with zod and the URL API on seeded random URLs, and takes most plain ones without the URL parser", () => {
    const rand = random(8192);
    const pick = (list: readonly string[]) => list[Math.floor(rand() * list.length)] as string;
    let valid = 0;
    for (let i = 0; i < 4000; i++) {
      let url =
        pick(PIECES.scheme) +
        pick(PIECES.separator) +
        pick(PIECES.host) +
        pick(PIECES.port) +
        pick(PIECES.path) +
        pick(PIECES.query) +
        pick(PIECES.fragment);
      if (rand() < 0.1) {
        // A tab or newline somewhere: the URL parser ignores it, zod's output drops it.
        const at = Math.floor(rand() * url.length);
        url = url.slice(0, at) + pick(["\t", "\n", "\r"]) + url.slice(at);
      }
      const wrapper = pick(PIECES.wrapper);
      const r = expectUrlAgreement(wrapper + url + wrapper);
      if (r.zodOk) valid += 1;
    }
    expect(valid).toBeGreaterThan(500);
  });

  it("agrees on the URLs plainest at their edges", () => {
    for (const url of [
      "https://shop.example",
      "https://shop.example?x",
      "https://shop.example#f?x",
      "https://shop.example/?",
      "https://shop.example/?#",
      "https://shop.example:443/",
      "http://shop.example:0080/a",
      `https://shop.example/${"x".repeat(8171)}`,
      "HTTPS://SHOP.EXAMPLE/A?B=C",
    ]) {
      expect(expectUrlAgreement(url).fastUnsure, url.slice(0, 100)).toBe(false);
    }
    // One character over zod's 8192.
    expect(expectUrlAgreement(`https://shop.example/${"x".repeat(8172)}`).zodOk).toBe(false);
  });

  it("reads a plain URL without the URL parser, and asks it once per authority", () => {
    const parse = vi.spyOn(URL, "parse");
    const canParse = vi.spyOn(URL, "canParse");
    try {
      const authority = `https://once-${Date.now()}.example`;
      for (const path of ["/a?utm_source=x", "/b", "/c#d"]) {
        expect(expectUrlAgreement(authority + path).fastUnsure).toBe(false);
      }
      expect(canParse.mock.calls.filter(([u]) => u === authority)).toHaveLength(1);
      parse.mockClear();
      urlFast.parse(`${authority}/e`);
      expect(parse).not.toHaveBeenCalled();
      // Not plain (a dot segment): the URL parser decides, as in zod.
      urlFast.parse(`${authority}/./e`);
      expect(parse).toHaveBeenCalled();
    } finally {
      parse.mockRestore();
      canParse.mockRestore();
    }
  });
});
