import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { HOUR_MS, MINUTE_MS, windowEndMs, windowStartMs } from "./window-start-ms.ts";

describe("windowStartMs", () => {
  // Expected starts worked out by hand from the ISO instants.
  const cases: [string, number, number, number][] = [
    [
      "start of a minute is its own start",
      Date.parse("2026-03-01T10:15:00.000Z"),
      MINUTE_MS,
      Date.parse("2026-03-01T10:15:00.000Z"),
    ],
    [
      "last ms of a minute",
      Date.parse("2026-03-01T10:15:59.999Z"),
      MINUTE_MS,
      Date.parse("2026-03-01T10:15:00.000Z"),
    ],
    [
      "middle of a minute",
      Date.parse("2026-03-01T10:15:30.500Z"),
      MINUTE_MS,
      Date.parse("2026-03-01T10:15:00.000Z"),
    ],
    [
      "hour rollup",
      Date.parse("2026-03-01T10:59:59.999Z"),
      HOUR_MS,
      Date.parse("2026-03-01T10:00:00.000Z"),
    ],
    [
      "next hour",
      Date.parse("2026-03-01T11:00:00.000Z"),
      HOUR_MS,
      Date.parse("2026-03-01T11:00:00.000Z"),
    ],
    ["epoch", 0, MINUTE_MS, 0],
    ["before 1970 floors, not truncates", -1, MINUTE_MS, -60_000],
    ["exactly one window before 1970", -60_000, MINUTE_MS, -60_000],
    ["fractional ms belongs to its whole ms", 59_999.9, MINUTE_MS, 0],
    ["odd width", 1_000_003, 7, 1_000_003 - (1_000_003 % 7)],
  ];
  it.each(cases)("%s", (_name, t, width, expected) => {
    expect(windowStartMs(t, width)).toBe(expected);
    expect(windowEndMs(t, width)).toBe(expected + width);
  });

  it.each([
    [Number.NaN, MINUTE_MS],
    [Number.POSITIVE_INFINITY, MINUTE_MS],
    [0, 0],
    [0, -60_000],
    [0, 1.5],
  ])("rejects time %s with width %s", (t, width) => {
    expect(() => windowStartMs(t, width)).toThrow(ValidationError);
  });
});
