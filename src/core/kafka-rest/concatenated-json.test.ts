import { describe, expect, it } from "vitest";
import { concatenatedJson } from "./concatenated-json.ts";

describe("concatenatedJson", () => {
  it("reads one value, and several concatenated with or without whitespace, in order", () => {
    expect(concatenatedJson('{"a":1}')).toEqual([{ a: 1 }]);
    expect(concatenatedJson('{"a":1}{"b":"}{"}\n {"c":[1,{"d":null}]} 7 "x"')).toEqual([
      { a: 1 },
      { b: "}{" },
      { c: [1, { d: null }] },
      7,
      "x",
    ]);
    expect(concatenatedJson("  \n")).toEqual([]);
  });

  it("throws on text that ends inside a value or is not JSON", () => {
    expect(() => concatenatedJson('{"a":1}{"b":')).toThrow();
    expect(() => concatenatedJson('{"a":1} nope')).toThrow();
  });
});
