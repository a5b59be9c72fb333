import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { formatMicros, MAX_ABS_VALUE, toMicros } from "./value-micros.ts";

describe("toMicros", () => {
  it.each([
    [0, 0n],
    [19.99, 19_990_000n],
    [0.1 + 0.2, 300_000n],
    [-5.5, -5_500_000n],
    [1e-7, 0n],
    [0.0000015, 2n],
    [123456789.123456, 123_456_789_123_456n],
    [MAX_ABS_VALUE, 1_000_000_000_000_000_000n],
  ])("%s → %s", (value, expected) => {
    expect(toMicros(value)).toBe(expected);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, MAX_ABS_VALUE * 10, -MAX_ABS_VALUE * 10])(
    "rejects %s",
    (value) => {
      expect(() => toMicros(value)).toThrow(ValidationError);
    },
  );

  it("sums exactly where floats drift", () => {
    const values = Array.from({ length: 1000 }, () => 0.1);
    const floatSum = values.reduce((a, b) => a + b, 0);
    expect(floatSum).not.toBe(100);
    expect(formatMicros(values.reduce((a, v) => a + toMicros(v), 0n))).toBe("100.000000");
  });
});

describe("formatMicros", () => {
  it.each([
    [0n, "0.000000"],
    [1n, "0.000001"],
    [19_990_000n, "19.990000"],
    [-1n, "-0.000001"],
    [-12_340_000n, "-12.340000"],
    [123_456_789_012_345_678n, "123456789012.345678"],
  ])("%s → %s", (micros, expected) => {
    expect(formatMicros(micros)).toBe(expected);
  });
});
