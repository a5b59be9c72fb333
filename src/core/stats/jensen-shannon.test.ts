import { describe, expect, it } from "vitest";
import golden from "../../../test/fixtures/stats/jensen-shannon.json" with { type: "json" };
import { ValidationError } from "../errors.ts";
import { jensenShannonDistance } from "./jensen-shannon.ts";

// Golden values: scipy.spatial.distance.jensenshannon(p, q) and (p, q, base=2).
const ABS = 1e-12;

describe("jensenShannonDistance against scipy", () => {
  it.each(golden.cases.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    expect(Math.abs(jensenShannonDistance(c.p, c.q) - c.distanceE)).toBeLessThanOrEqual(ABS);
    expect(
      Math.abs(jensenShannonDistance(c.p, c.q, { base: 2 }) - c.distance2),
    ).toBeLessThanOrEqual(ABS);
  });

  it("is bounded by sqrt(ln 2) in base e and 1 in base 2", () => {
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(Math.sqrt(Math.LN2), 14);
    expect(jensenShannonDistance([1, 0], [0, 1], { base: 2 })).toBeCloseTo(1, 14);
  });

  it.each([
    ["different lengths", [1, 2], [1], /p has 2 entries and q has 1/],
    ["zero mass", [0, 0], [1, 1], /p sums to zero/],
    ["negative weight", [1, -1], [1, 1], /p\[1\]/],
  ] as const)("rejects %s", (_label, p, q, message) => {
    expect(() => jensenShannonDistance(p, q)).toThrow(ValidationError);
    expect(() => jensenShannonDistance(p, q)).toThrow(message);
  });

  it("rejects base 1", () => {
    expect(() => jensenShannonDistance([1], [1], { base: 1 })).toThrow(/base is 1/);
  });
});
