import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  findTextIssues,
  jsonMayHoldUnstorableText,
  MAX_STORABLE_DEPTH,
  refineStorableJson,
  storableString,
  textIssueMessage,
  textProblem,
} from "./well-formed-text.ts";

describe("textProblem", () => {
  it.each([
    ["plain ASCII", "mobile", undefined],
    ["a surrogate pair (one emoji)", "\ud83d\ude00", undefined],
    ["a literal backslash-u text", "\\ud800 \\u0000", undefined],
    ["a lone high surrogate", "a\ud800", "lone-surrogate"],
    ["a lone low surrogate", "\udc00b", "lone-surrogate"],
    ["a pair in the wrong order", "\ude00\ud83d", "lone-surrogate"],
    ["U+0000", "a\u0000b", "nul"],
    ["both (the surrogate is reported)", "\u0000\ud800", "lone-surrogate"],
  ])("%s", (_name, text, problem) => {
    expect(textProblem(text)).toBe(problem);
  });
});

describe("findTextIssues", () => {
  it("finds bad values and keys by path, without naming a bad key", () => {
    const value = { a: ["ok", { b: "\ud800" }], "k\udc00": { deeper: "\u0000" }, c: "x\u0000" };
    expect(findTextIssues(value, 10)).toEqual([
      { path: ["a", 1, "b"], problem: "lone-surrogate", inKey: false },
      { path: [], problem: "lone-surrogate", inKey: true },
      { path: ["c"], problem: "nul", inKey: false },
    ]);
    expect(findTextIssues(value)).toHaveLength(1);
    expect(findTextIssues({ n: 1, t: true, z: null, s: "fine" }, 10)).toEqual([]);
    expect(textIssueMessage({ problem: "nul", inKey: true })).toMatch(
      /^has a key that holds U\+0000/,
    );
  });
});

describe("zod helpers", () => {
  it("report each bad string at its path", () => {
    const schema = z.object({
      id: storableString.min(1),
      extra: z.record(z.string(), z.unknown()).superRefine(refineStorableJson),
    });
    const result = schema.safeParse({ id: "\ud800", extra: { x: ["\u0000"] } });
    expect(result.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["id", expect.stringMatching(/lone UTF-16 surrogate/)],
      ["extra.x.0", expect.stringMatching(/U\+0000/)],
    ]);
    expect(schema.safeParse({ id: "ok", extra: { "\ud83d\ude00": "\ud83d\ude00" } }).success).toBe(
      true,
    );
  });
});

describe("findTextIssues on deeply nested values", () => {
  it("reports a value nested past MAX_STORABLE_DEPTH as too deep instead of exhausting the stack", () => {
    let deep: unknown = "\ud800";
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(findTextIssues({ a: deep })).toEqual([
      {
        path: ["a", ...Array.from({ length: MAX_STORABLE_DEPTH - 1 }, () => 0)],
        problem: "too-deep",
        inKey: false,
      },
    ]);
    let shallow: unknown = "ok";
    for (let i = 0; i < MAX_STORABLE_DEPTH - 1; i++) shallow = [shallow];
    expect(findTextIssues(shallow)).toEqual([]);
  });
});

describe("jsonMayHoldUnstorableText", () => {
  it("says no only when the parsed value holds no unstorable string", () => {
    // Strings of any UTF-16 code units (lone surrogates, U+0000), as keys and values, serialised
    // as JSON.stringify writes them (escaped) and with the escapes written in upper case.
    const documents = fc.jsonValue({ stringUnit: "binary", maxDepth: 4 }).chain((v) =>
      fc.constantFrom(
        JSON.stringify(v),
        JSON.stringify(v).replace(
          /\\u([0-9a-f]{4})/g,
          (_, hex: string) => `\\u${hex.toUpperCase()}`,
        ),
      ),
    );
    fc.assert(
      fc.property(documents, (text) => {
        const parsed: unknown = JSON.parse(text);
        if (!jsonMayHoldUnstorableText(text)) expect(findTextIssues(parsed)).toEqual([]);
        if (findTextIssues(parsed).length > 0) expect(jsonMayHoldUnstorableText(text)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['{"a":"plain é 😀"}', false],
    ['{"a":"\\u00e9 \\u20ac"}', false],
    ['{"a":"\\u0000"}', true],
    ['{"a\\ud800":1}', true],
    ['{"a":"\\uDFFF"}', true],
    // An escaped pair is storable, but only the parsed value can tell: checked, not refused.
    ['{"a":"\\ud83d\\ude00"}', true],
    // A text that holds a lone surrogate itself (not from the network's UTF-8) is never trusted.
    ['{"a":"\ud800"}', true],
  ])("%s → %s", (text, expected) => {
    expect(jsonMayHoldUnstorableText(text)).toBe(expected);
  });
});
