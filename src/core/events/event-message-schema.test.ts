import { describe, expect, it } from "vitest";
import { eventDedupKey } from "./event-message-schema.ts";

describe("eventDedupKey", () => {
  it.each([
    ["acme", "Purchase", "order-4711"],
    ["acme", "Purchase", "A-z_0.9!~*'()"],
    ["a:b", "Add To Cart", "id:with:colons"],
    ["tenant", "Purchase", "ümlaut/😀?&="],
    ["", "", ""],
  ])(
    "URI-encodes each part of (%j, %j, %j) and joins them with ':'",
    (tenant, eventName, eventId) => {
      expect(eventDedupKey({ tenant, eventName, eventId })).toBe(
        [tenant, eventName, eventId].map(encodeURIComponent).join(":"),
      );
    },
  );

  it("keys a test event apart from the live event with the same triple, per test code", () => {
    const live = eventDedupKey({ tenant: "acme", eventName: "Purchase", eventId: "o-1" });
    const test = eventDedupKey({
      tenant: "acme",
      eventName: "Purchase",
      eventId: "o-1",
      testEventCode: "TEST 1",
    });
    expect(test).toBe(`${live}:test=TEST%201`);
    const other = eventDedupKey({
      tenant: "acme",
      eventName: "Purchase",
      eventId: "o-1",
      testEventCode: "TEST2",
    });
    expect(new Set([live, test, other]).size).toBe(3);
  });

  it("keeps distinct triples distinct even when the parts contain ':'", () => {
    const a = eventDedupKey({ tenant: "a:b", eventName: "c", eventId: "d" });
    const b = eventDedupKey({ tenant: "a", eventName: "b:c", eventId: "d" });
    expect(a).not.toBe(b);
  });

  it("keys ids with a lone UTF-16 surrogate without throwing, distinct from each other", () => {
    const a = eventDedupKey({ tenant: "t", eventName: "Purchase", eventId: "a\ud800" });
    const b = eventDedupKey({ tenant: "t", eventName: "Purchase", eventId: "a\ud801" });
    const c = eventDedupKey({ tenant: "t", eventName: "Purchase", eventId: "a\ufffd" });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(a).toBe("t:Purchase:%u0061%ud800");
  });
});
