import { describe, expect, it } from "vitest";
import { shownContentType } from "./shown-content-type";

describe("shownContentType", () => {
  it.each([
    [undefined, "(none)"],
    ["", "(none)"],
    ["text/plain", "text/plain"],
    ["Text/Plain; charset=utf-8; secret=abc", "text/plain"],
    ["application/vnd.api+json", "application/vnd.api+json"],
    ["jane@example.com wants in", "(not a media type)"],
    [`text/${"x".repeat(500)}`, "(not a media type)"],
    ["text/pl\u0000ain", "(not a media type)"],
  ])("%j → %s", (header, shown) => {
    expect(shownContentType(header)).toBe(shown);
  });
});
