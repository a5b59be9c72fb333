import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { eventDedupIdentity, eventDedupKey, eventDedupKeys } from "./event-message-schema.ts";

describe("eventDedupKey", () => {
  it("is the hex SHA-256 of the identity: 64 characters however long the parts", () => {
    const message = { tenant: "acme", eventName: "e".repeat(256), eventId: "x".repeat(7_000) };
    const key = eventDedupKey(message);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).toBe(
      createHash("sha256").update(eventDedupIdentity(message), "utf8").digest("hex"),
    );
    expect(eventDedupKey({ tenant: "a", eventName: "b", eventId: "ümlaut😀" })).toHaveLength(64);
  });

  it("keys browser events apart from server events, and points each at its other copy's key", () => {
    const m = { tenant: "acme", eventName: "Purchase", eventId: "o-1" };
    const server = eventDedupKeys(m);
    const legacy = eventDedupKeys({ ...m, keyKind: undefined });
    const browser = eventDedupKeys({ ...m, keyKind: "browser" });
    expect(server).toEqual({
      key: eventDedupKey(m, "server"),
      otherKey: eventDedupKey(m, "browser"),
    });
    expect(legacy).toEqual(server);
    expect(browser.key).not.toBe(server.key);
    expect(browser.otherKey).toBe(server.key);
    expect(server.otherKey).toBe(browser.key);
  });

  it("hashes both namespaces' identities, test code and encoded parts included", () => {
    const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
    const m = {
      tenant: "a:b",
      eventName: "Add To Cart",
      eventId: "ümlaut/😀",
      testEventCode: "TEST 1",
      keyKind: "browser" as const,
    };
    expect(eventDedupKeys(m)).toEqual({
      key: sha(eventDedupIdentity(m, "browser")),
      otherKey: sha(eventDedupIdentity(m, "server")),
    });
    expect(eventDedupIdentity(m, "browser")).toBe(
      "browser|a%3Ab:Add%20To%20Cart:%C3%BCmlaut%2F%F0%9F%98%80:test=TEST%201",
    );
  });
});

describe("eventDedupIdentity", () => {
  it.each([
    ["acme", "Purchase", "order-4711"],
    ["acme", "Purchase", "A-z_0.9!~*'()"],
    ["a:b", "Add To Cart", "id:with:colons"],
    ["tenant", "Purchase", "ümlaut/😀?&="],
    ["", "", ""],
  ])(
    "URI-encodes each part of (%j, %j, %j) and joins them with ':'",
    (tenant, eventName, eventId) => {
      expect(eventDedupIdentity({ tenant, eventName, eventId })).toBe(
        `server|${[tenant, eventName, eventId].map(encodeURIComponent).join(":")}`,
      );
    },
  );

  it("keys a test event apart from the live event with the same triple, per test code", () => {
    const live = eventDedupIdentity({ tenant: "acme", eventName: "Purchase", eventId: "o-1" });
    const test = eventDedupIdentity({
      tenant: "acme",
      eventName: "Purchase",
      eventId: "o-1",
      testEventCode: "TEST 1",
    });
    expect(test).toBe(`${live}:test=TEST%201`);
    const other = eventDedupIdentity({
      tenant: "acme",
      eventName: "Purchase",
      eventId: "o-1",
      testEventCode: "TEST2",
    });
    expect(new Set([live, test, other]).size).toBe(3);
  });

  it("keeps distinct triples distinct even when the parts contain ':'", () => {
    const a = eventDedupIdentity({ tenant: "a:b", eventName: "c", eventId: "d" });
    const b = eventDedupIdentity({ tenant: "a", eventName: "b:c", eventId: "d" });
    expect(a).not.toBe(b);
  });

  it("keys ids with a lone UTF-16 surrogate without throwing, distinct from each other", () => {
    const a = eventDedupIdentity({ tenant: "t", eventName: "Purchase", eventId: "a\ud800" });
    const b = eventDedupIdentity({ tenant: "t", eventName: "Purchase", eventId: "a\ud801" });
    const c = eventDedupIdentity({ tenant: "t", eventName: "Purchase", eventId: "a\ufffd" });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(a).toBe("server|t:Purchase:%u0061%ud800");
  });
});
