import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { prepareEvents } from "./prepare-events.ts";
import {
  DEFAULT_URL_QUERY_ALLOWLIST,
  parseUrlQueryAllowlist,
  stripUrlQuery,
  urlQueryAllowlistProblems,
} from "./url-query-allowlist.ts";

const D = DEFAULT_URL_QUERY_ALLOWLIST;

describe("stripUrlQuery", () => {
  it.each([
    ["no query", "https://shop.example/a/b", "https://shop.example/a/b"],
    [
      "only allowed parameters: the text itself",
      "https://s.example/?utm_source=fb&gclid=G1",
      "https://s.example/?utm_source=fb&gclid=G1",
    ],
    [
      "drops a session id and a reset token, keeps utm_* in order",
      "https://s.example/p?sid=abc123&utm_medium=cpc&reset_token=t0k&utm_campaign=spring",
      "https://s.example/p?utm_medium=cpc&utm_campaign=spring",
    ],
    [
      "nothing allowed: no '?' left",
      "https://s.example/p?email_hash=1&q=shoes",
      "https://s.example/p",
    ],
    [
      "drops the fragment",
      "https://s.example/p?fbclid=F#access_token=secret",
      "https://s.example/p?fbclid=F",
    ],
    ["a '?' inside the fragment is no query", "https://s.example/p#x?sid=1", "https://s.example/p"],
    ["empty pairs go", "https://s.example/?&&utm_id=7&", "https://s.example/?utm_id=7"],
    [
      "names are decoded before matching (utm%5Fsource is utm_source); the pair is kept as written",
      "https://s.example/?utm%5Fsource=a%20b&x%3Dy=1",
      "https://s.example/?utm%5Fsource=a%20b",
    ],
    [
      "a malformed escape in a name drops the pair",
      "https://s.example/?%E0%A4%A=1&gclid=g",
      "https://s.example/?gclid=g",
    ],
    [
      "a parameter without '=' is matched by its name",
      "https://s.example/?gclid&debug",
      "https://s.example/?gclid",
    ],
    [
      "a prefix does not match a longer lookalike",
      "https://s.example/?utmx=1&gclid_x=2",
      "https://s.example/",
    ],
  ])("%s", (_name, url, expected) => {
    expect(stripUrlQuery(url, D)).toBe(expected);
  });

  it("keeps what a configured list names, exact names and prefixes", () => {
    const list = parseUrlQueryAllowlist(" ref , lang ,ab_* ,,");
    expect(stripUrlQuery("https://s.example/?ref=x&utm_source=y&ab_test=3&lang=de", list)).toBe(
      "https://s.example/?ref=x&ab_test=3&lang=de",
    );
    expect(stripUrlQuery("https://s.example/?utm_source=y", parseUrlQueryAllowlist(""))).toBe(
      "https://s.example/",
    );
  });

  it("keeps exactly the allowed pairs of any query (property, against URLSearchParams)", () => {
    const name = fc.constantFrom(
      "utm_source",
      "utm_x",
      "gclid",
      "fbclid",
      "sid",
      "token",
      "q",
      "utm",
    );
    const value = fc.string({ maxLength: 8 }).map(encodeURIComponent);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), (pairs) => {
        const query = pairs.map(([n, v]) => `${n}=${v}`).join("&");
        const url = `https://s.example/p${query === "" ? "" : `?${query}`}`;
        const stripped = new URL(stripUrlQuery(url, D));
        const expected = pairs.filter(
          ([n]) => n.startsWith("utm_") || n === "gclid" || n === "fbclid",
        );
        expect([...stripped.searchParams]).toEqual(
          expected.map(([n, v]) => [n, decodeURIComponent(v)]),
        );
        expect(stripped.pathname).toBe("/p");
      }),
    );
  });
});

describe("urlQueryAllowlistProblems", () => {
  it("names each item that is not a parameter name or a trailing-* prefix", () => {
    expect(urlQueryAllowlistProblems("utm_*,gclid")).toEqual([]);
    expect(urlQueryAllowlistProblems("*,a*b,x y,ok")).toEqual([
      '"*" would keep every parameter; list the ones Driftline should keep',
      '"a*b": a * may only end an item (utm_*)',
      '"x y" is not a query parameter name',
    ]);
  });
});

describe("prepareEvents keeps only allowed query parameters in event URLs", () => {
  const nowMs = Date.UTC(2026, 11, 7, 12);
  const prepare = (source: "web" | "capi", event: Record<string, unknown>, allowlist = D) =>
    prepareEvents({
      tenant: "acme",
      source,
      body: source === "capi" ? { data: [event] } : event,
      nowMs,
      newEventId: () => "generated",
      options: { urlQueryAllowlist: allowlist },
    });

  const url =
    "https://shop.example/thanks?order=98765&session=s3cr3t&utm_source=news&utm_campaign=spring&fbclid=IwAR1#token=abc";
  const referrer = "https://shop.example/cart?coupon=SAVE10&utm_medium=email";

  it("website events: event_source_url and referrer_url lose every other parameter and the fragment", async () => {
    const { results } = await prepare("web", {
      event_name: "Purchase",
      event_id: "w-1",
      event_time: Math.floor(nowMs / 1000),
      event_source_url: url,
      referrer_url: referrer,
      user_data: { client_user_agent: "test-agent" },
      custom_data: { currency: "EUR", value: 10 },
    });
    const r = results[0]!;
    expect(r.status).toBe("accepted");
    if (r.status !== "accepted") return;
    expect(r.message.event.event_source_url).toBe(
      "https://shop.example/thanks?utm_source=news&utm_campaign=spring&fbclid=IwAR1",
    );
    expect(r.message.event.referrer_url).toBe("https://shop.example/cart?utm_medium=email");
    expect(r.message.campaign).toBe("spring");
    expect(r.messageJson).not.toContain("s3cr3t");
    expect(r.messageJson).not.toContain("98765");
    expect(r.messageJson).not.toContain("SAVE10");
    expect(r.messageJson).not.toContain("token=abc");
  });

  it("CAPI events: the same, and an email in an allowed value is still hashed", async () => {
    const { results } = await prepare("capi", {
      event_name: "Lead",
      event_id: "c-1",
      event_time: Math.floor(nowMs / 1000),
      action_source: "website",
      event_source_url: `${url.replace("#token=abc", "")}&utm_content=Jane.Doe@Example.com`,
      user_data: { client_user_agent: "test-agent", client_ip_address: "203.0.113.9" },
    });
    const r = results[0]!;
    expect(r.status).toBe("accepted");
    if (r.status !== "accepted") return;
    const kept = new URL(r.message.event.event_source_url as string);
    expect([...kept.searchParams.keys()]).toEqual([
      "utm_source",
      "utm_campaign",
      "fbclid",
      "utm_content",
    ]);
    expect(kept.searchParams.get("utm_content")).toMatch(/^[0-9a-f]{64}$/);
    expect(r.messageJson).not.toContain("session");
    expect(r.messageJson.toLowerCase()).not.toContain("jane.doe");
  });

  it("an email address in a website event's campaign (a stored window key) is hashed", async () => {
    const { results } = await prepare("web", {
      event_name: "Lead",
      event_id: "w-3",
      event_time: Math.floor(nowMs / 1000),
      campaign: "retarget Jane.Doe@Example.com",
      event_source_url: "https://shop.example/",
      user_data: { client_user_agent: "test-agent" },
    });
    const r = results[0]!;
    if (r.status !== "accepted") throw new Error(`rejected: ${JSON.stringify(r)}`);
    expect(r.message.campaign).toMatch(/^retarget [0-9a-f]{64}$/);
    expect(r.messageJson.toLowerCase()).not.toContain("jane.doe");
  });

  it("a list without utm_* reads no campaign from the URL (nothing off the list is read either)", async () => {
    const { results } = await prepare(
      "web",
      {
        event_name: "PageView",
        event_id: "w-2",
        event_time: Math.floor(nowMs / 1000),
        event_source_url: url,
        user_data: { client_user_agent: "test-agent" },
      },
      parseUrlQueryAllowlist("fbclid"),
    );
    const r = results[0]!;
    if (r.status !== "accepted") throw new Error(`rejected: ${JSON.stringify(r)}`);
    expect(r.message.event.event_source_url).toBe("https://shop.example/thanks?fbclid=IwAR1");
    expect(r.message.campaign).toBeUndefined();
    expect(r.message.utm).toBeUndefined();
  });
});
