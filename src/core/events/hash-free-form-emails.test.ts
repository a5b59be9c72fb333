import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  hashEmailsInUrl,
  hashEmailsInValue,
  hashEmbeddedEmails,
  hashIfEmail,
} from "./hash-free-form-emails.ts";
import { isValidEmail } from "./normalize-user-data-value.ts";

// Node's own SHA-256: an implementation independent of the one under test.
const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("hashIfEmail", () => {
  it("hashes a whole-value email address in its normal form, like em", () => {
    expect(hashIfEmail("  Jane.Doe+shop@Example.COM ")).toBe(sha("jane.doe+shop@example.com"));
  });

  it.each(["order-4711", "@handle", "jane@localhost", "price 10 @ 3.50", "", sha("x")])(
    "leaves %j as it is",
    (value) => {
      expect(hashIfEmail(value)).toBe(value);
    },
  );
});

describe("email addresses inside free text", { timeout: 60_000 }, () => {
  it.each([
    ["write to Jane@Example.com today", `write to ${sha("jane@example.com")} today`],
    [
      "from <a.b@shop.example>, cc: ops@shop.example.",
      `from <${sha("a.b@shop.example")}>, cc: ${sha("ops@shop.example")}.`,
    ],
    ["user@mail.example@evil", `${sha("user@mail.example")}@evil`],
    ["see .jane@example.com-", `see .${sha("jane@example.com")}-`],
  ])("hashes each address in %j", (text, expected) => {
    expect(hashIfEmail(text)).toBe(expected);
  });

  it("never leaves an address in any text around it (property)", () => {
    const email = fc.emailAddress().filter((e) => isValidEmail(e.toLowerCase()));
    fc.assert(
      fc.property(fc.string(), email, fc.string(), (before, address, after) => {
        const out = hashEmbeddedEmails(`${before} ${address} ${after}`);
        expect(out.toLowerCase()).not.toContain(address.toLowerCase());
      }),
      { numRuns: 500 },
    );
  });

  it("widens each @ by at most an address's length, so hostile text is read in one pass", () => {
    // A regular expression over the whole text would backtrack from each of the 500,000 start
    // positions; the scan looks at 64 characters left and 253 right of each "@" (the test's
    // time limit would catch a quadratic scan). Neither text holds a valid address.
    const hostile = `${"a".repeat(500_000)}@${"b.".repeat(250_000)}`;
    const manyAts = "a@".repeat(200_000);
    expect(hashEmbeddedEmails(hostile)).toBe(hostile);
    expect(hashEmbeddedEmails(manyAts)).toBe(manyAts);
    // The longest valid address right after 500,000 local-part characters is still found.
    const tail = `${"a".repeat(500_000)}@shop.example`;
    expect(hashEmbeddedEmails(tail)).toBe(
      `${"a".repeat(500_000 - 64)}${sha(`${"a".repeat(64)}@shop.example`)}`,
    );
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
