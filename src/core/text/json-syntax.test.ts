import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonSyntaxProblem } from "./json-syntax.ts";

const parseError = (text: string): unknown => {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error(`${text} parsed`);
};

describe("jsonSyntaxProblem", () => {
  it.each([
    ['{"email": jane@example.com}', "a syntax error"],
    ['{"em":"jane@example.com" x}', "a syntax error at character 25"],
    ['{"em":"jane@example.com"', "a syntax error at character 24"],
    ["", "it ends before the JSON value is complete"],
  ])("says where %j is broken without quoting it", (text, expected) => {
    // V8's own message quotes the text in the first case: what this replaces.
    expect(jsonSyntaxProblem(parseError(text))).toBe(expected);
  });

  it("never carries any of the text it was given (property)", () => {
    const secret = fc.stringMatching(/^[a-z]{6,20}$/);
    fc.assert(
      fc.property(secret, fc.constantFrom("{", "[", '{"a":', "{x", '{"a" 1'), (s, head) => {
        const problem = jsonSyntaxProblem(parseError(`${head}${s}@example.com`));
        expect(problem).not.toContain(s);
      }),
    );
  });
});
