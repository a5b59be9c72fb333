import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashEmailsInUrl, hashEmailsInValue, hashIfEmail } from "./hash-free-form-emails.ts";

// Node's own SHA-256: an implementation independent of the one under test.
const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("hashIfEmail", () => {
  it("hashes a whole-value email address in its normal form, like em", () => {
    expect(hashIfEmail("  Jane.Doe+shop@Example.COM ")).toBe(sha("jane.doe+shop@example.com"));
  });

  it.each([
    "order-4711",
    "@handle",
    "write to jane@example.com today",
    "jane@localhost",
    "",
    sha("x"),
  ])("leaves %j as it is", (value) => {
    expect(hashIfEmail(value)).toBe(value);
  });
});

describe("hashEmailsInValue", () => {
  it("hashes emails at any depth and copies only what changed", () => {
    const contents = [{ id: "sku-1", quantity: 1 }];
    const input = {
      value: 12.5,
      customer_email: "Jane@Example.com",
      contents,
      tags: ["vip", "ops@shop.example"],
      nested: { deeper: { contact: "bob@example.org" } },
    };
    const out = hashEmailsInValue(input);
    expect(out).toEqual({
      value: 12.5,
      customer_email: sha("jane@example.com"),
      contents,
      tags: ["vip", sha("ops@shop.example")],
      nested: { deeper: { contact: sha("bob@example.org") } },
    });
    expect(out.contents).toBe(contents);
    expect(input.customer_email).toBe("Jane@Example.com");
  });

  it("returns the same object when there is no email", () => {
    const input = { value: 1, currency: "USD", contents: [{ id: "a" }] };
    expect(hashEmailsInValue(input)).toBe(input);
  });
});

describe("hashEmailsInUrl", () => {
  it("leaves a URL without an email byte for byte, even odd encodings", () => {
    const url = "https://shop.example/p/1?utm_source=a%20b&x=1+2#frag";
    expect(hashEmailsInUrl(url)).toBe(url);
  });

  it("hashes emails in query values (encoded or not) and keeps the other parameters", () => {
    const out = hashEmailsInUrl(
      "https://shop.example/thanks?email=Jane%40Example.com&utm_campaign=spring&to=bob@example.org",
    );
    const url = new URL(out);
    expect(url.searchParams.get("email")).toBe(sha("jane@example.com"));
    expect(url.searchParams.get("to")).toBe(sha("bob@example.org"));
    expect(url.searchParams.get("utm_campaign")).toBe("spring");
    expect(out).not.toMatch(/example\.(com|org)/i);
  });

  it("hashes an email path segment and drops user info", () => {
    const out = hashEmailsInUrl(
      "https://user:secret@shop.example/account/jane%40example.com/orders",
    );
    expect(out).toBe(`https://shop.example/account/${sha("jane@example.com")}/orders`);
  });

  it("finds an address that is only percent-encoded", () => {
    const out = hashEmailsInUrl("https://shop.example/a?e=jane%40example.com");
    expect(new URL(out).searchParams.get("e")).toBe(sha("jane@example.com"));
  });

  it("leaves text that is not a URL alone", () => {
    expect(hashEmailsInUrl("not a url @ all")).toBe("not a url @ all");
  });
});
