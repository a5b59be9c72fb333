import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { PredictionWindow, SCORE_COLUMN } from "./prediction-window.ts";

const columns = [
  { name: "x", type: "number" as const },
  { name: "c", type: "categorical" as const },
  { name: SCORE_COLUMN, type: "number" as const },
];

describe("PredictionWindow", () => {
  it("keeps the last `capacity` predictions per column", () => {
    const w = new PredictionWindow(columns, 3);
    for (let i = 0; i < 5; i++)
      w.push({ features: { x: i, c: `k${i}` }, score: i / 10, predictedAtMs: 100 + i });
    expect(w.size).toBe(3);
    expect(w.columnValues("x").sort()).toEqual([2, 3, 4]);
    expect(w.columnValues("c").sort()).toEqual(["k2", "k3", "k4"]);
    expect(w.columnValues(SCORE_COLUMN).sort()).toEqual([0.2, 0.3, 0.4]);
    expect(w.timeRange()).toEqual({ startMs: 102, endMs: 104 });
  });

  it("returns only filled slots before it is full", () => {
    const w = new PredictionWindow(columns, 10);
    expect(w.timeRange()).toBeUndefined();
    w.push({ features: { x: 1, c: "a" }, score: 0.5, predictedAtMs: 7 });
    expect(w.columnValues("x")).toEqual([1]);
  });

  it("keeps values of the wrong type as missing and counts them", () => {
    const w = new PredictionWindow(columns, 4);
    w.push({ features: { x: "oops", c: 3 }, score: 0.1, predictedAtMs: 1 });
    w.push({ features: { x: Number.NaN }, score: 0.1, predictedAtMs: 2 });
    expect(w.columnValues("x")).toEqual([null, null]);
    expect(w.columnValues("c")).toEqual([null, null]);
    expect(w.invalid).toBe(3);
  });

  it("refuses a bad shape with a ValidationError", () => {
    expect(() => new PredictionWindow(columns, 0)).toThrow(ValidationError);
    expect(() => new PredictionWindow([...columns, columns[0]!], 2)).toThrow(/repeats/);
    expect(() => new PredictionWindow(columns, 2).columnValues("nope")).toThrow(/no column/);
  });
});
