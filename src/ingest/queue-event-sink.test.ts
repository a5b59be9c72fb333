import { describe, expect, it } from "vitest";
import { planSendBatches, utf8ByteLength } from "./queue-event-sink";

describe("utf8ByteLength", () => {
  it.each([
    "",
    "plain ascii",
    "é",
    "€ 100",
    "😀 emoji (surrogate pair)",
    "mixed ü 日本語 🇩🇪",
    "\u07ff\u0800\uffff",
    "tab\tnewline\n delete\u007f",
  ])("matches TextEncoder for %j", (text) => {
    expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
  });
});

describe("planSendBatches", () => {
  const limits = { messages: 3, bytes: 1_000 };

  it("cuts at the message count, keeping order", () => {
    expect(planSendBatches([1, 1, 1, 1, 1, 1, 1], limits)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it("cuts before a message that would overflow the byte budget (100 bytes overhead each)", () => {
    // 400 + 100 overhead = 500 per message: two fit in 1000, a third would not.
    expect(planSendBatches([400, 400, 400, 10], limits)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it("gives an oversized message a batch of its own rather than dropping it", () => {
    expect(planSendBatches([10, 5_000, 10], limits)).toEqual([[0], [1], [2]]);
  });

  it("plans nothing for no messages", () => {
    expect(planSendBatches([], limits)).toEqual([]);
  });
});
