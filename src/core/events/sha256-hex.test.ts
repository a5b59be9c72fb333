import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hexOf, sha256Hex } from "./sha256-hex.ts";

const reference = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("sha256Hex", () => {
  it.each([
    ["empty", ""],
    ["ascii", "joe@example.com"],
    ["one block minus padding (55 bytes)", "x".repeat(55)],
    ["exactly one block", "x".repeat(64)],
    ["non-ASCII", "müller straße 日本"],
    ["ASCII, then a non-ASCII character", `${"a".repeat(100)}é`],
    ["longest ASCII copied by hand (256)", "a".repeat(256)],
    ["one longer (257)", "a".repeat(257)],
    ["DEL and the highest one-byte code", "\u007f\u0080\u00ff"],
    ["emoji", "😀🇩🇪"],
    ["longest text the scratch buffer takes", "€".repeat(1365)],
    ["longer than the scratch buffer", "€".repeat(1366)],
    ["long ASCII", "a".repeat(100_000)],
  ])("matches node:crypto for %s", (_, text) => {
    expect(sha256Hex(text)).toBe(reference(text));
  });

  it("starts afresh on every call (the hasher is reused)", () => {
    const texts = ["a", "b".repeat(200), "", "c", "€".repeat(2000), "a", "é", "ab", "a"];
    expect(texts.map(sha256Hex)).toEqual(texts.map(reference));
  });

  it("writes hex the same with and without the native Uint8Array.prototype.toHex", () => {
    const digest = createHash("sha256").update("x").digest();
    const bytes = new Uint8Array([0, 1, 15, 16, 127, 128, 254, 255, ...digest.subarray(0, 24)]);
    const expected = Buffer.from(bytes).toString("hex");
    expect(hexOf(bytes, false)).toBe(expected);
    expect(hexOf(new Uint8Array([171, 205]), false)).toBe("abcd");
    if (typeof (bytes as { toHex?: unknown }).toHex === "function") {
      expect(hexOf(bytes, true)).toBe(expected);
    }
  });
});
