import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from "./json-depth.ts";

describe("jsonNestsDeeperThan", () => {
  it("counts arrays and objects, not brackets inside strings", () => {
    expect(jsonNestsDeeperThan('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(jsonNestsDeeperThan('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":"[[[[[[[[[[{{{{{{"}', 1)).toBe(false);
    expect(jsonNestsDeeperThan('{"a":"\\"[[[[","b":1}', 1)).toBe(false);
  });

  it("refuses 4,000 levels at the default limit, and scans them without recursion", () => {
    const deep = `${"[".repeat(4_000)}${"]".repeat(4_000)}`;
    expect(jsonNestsDeeperThan(deep)).toBe(true);
    expect(jsonNestsDeeperThan(`${"[".repeat(1_000_000)}`)).toBe(true);
    expect(jsonNestsDeeperThan(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).toBe(
      false,
    );
  });
});

/** The scan as it was first written, one character at a time: the reference for the fast one. */
function nestsDeeperOneByOne(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
      continue;
    }
    if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > maxDepth) return true;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return false;
}

describe("jsonNestsDeeperThan against the character-by-character scan", () => {
  // Texts made of the characters that matter (quotes, backslashes, brackets) and a little else,
  // valid JSON or not, and JSON documents with strings full of escapes.
  const tricky = fc
    .array(fc.constantFrom('"', "\\", "{", "}", "[", "]", "a", ":", ",", "\\\\", '\\"'), {
      maxLength: 80,
    })
    .map((parts) => parts.join(""));
  const documents = fc
    .jsonValue({ maxDepth: 6 })
    .map((v) => JSON.stringify(v))
    .filter((t) => t !== undefined);

  it("agrees on arbitrary texts and JSON documents, at every depth limit", () => {
    fc.assert(
      fc.property(fc.oneof(tricky, documents), fc.integer({ min: 0, max: 8 }), (text, max) => {
        expect(jsonNestsDeeperThan(text, max)).toBe(nestsDeeperOneByOne(text, max));
      }),
      { numRuns: 3000 },
    );
  });

  it("skips strings whose closing quote follows escaped backslashes", () => {
    expect(jsonNestsDeeperThan('["\\\\"]', 1)).toBe(false);
    expect(jsonNestsDeeperThan('["\\\\\\"[[["]', 1)).toBe(false);
    expect(jsonNestsDeeperThan('["\\\\",[[1]]]', 2)).toBe(true);
    expect(jsonNestsDeeperThan('["unterminated [[[[', 1)).toBe(false);
  });
});
