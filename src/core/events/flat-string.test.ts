import { describe, expect, it } from "vitest";
import { flatString } from "./flat-string.ts";

describe("flatString", () => {
  it("returns a string equal to its input, whatever its length and content", () => {
    const parent = `fb.1.1554763741205.${"AbCdEf".repeat(300)}`;
    for (const text of [
      "",
      "short",
      "exactly13char",
      parent.split(".")[3] as string,
      parent.slice(5, 40),
      `${parent}${parent}`,
      "ümlaut straße 日本 😀".repeat(3),
      "lone \ud800 surrogate and \udfff too, long enough",
      "x".repeat(1024),
      "y".repeat(1025),
      'quote " backslash \\ newline \n tab \t'.repeat(40),
    ]) {
      expect(flatString(text)).toBe(text);
    }
  });
});
