/** The console's time-chart range: a lone point gets a window either side, not years. */
import { describe, expect, it } from "vitest";
import { DEFAULT_POINT_WINDOW_MS, timeRangeSeconds } from "./ui/chart-range";

const T = Date.UTC(2026, 11, 7, 12, 0) / 1000;

describe("timeRangeSeconds", () => {
  it.each([
    ["no points", [], undefined, undefined],
    ["one point, no window", [T], undefined, [T - 60, T + 60]],
    ["one point, a 5-minute window", [T], 300_000, [T - 300, T + 300]],
    ["one point, an hourly window", [T], 3_600_000, [T - 3600, T + 3600]],
    ["several points at one instant", [T, T, T], 60_000, [T - 60, T + 60]],
    ["points apart: their own span", [T + 120, T, T + 60], 3_600_000, [T, T + 120]],
    ["non-finite values left out", [Number.NaN, T], undefined, [T - 60, T + 60]],
  ] as const)("%s", (_name, xs, windowMs, expected) => {
    expect(timeRangeSeconds(xs, windowMs)).toEqual(expected);
  });

  it("keeps a lone point's range to twice the window, never years", () => {
    const [lo, hi] = timeRangeSeconds([T]) ?? [0, 0];
    expect(hi - lo).toBe((2 * DEFAULT_POINT_WINDOW_MS) / 1000);
    expect((lo + hi) / 2).toBe(T);
  });
});
