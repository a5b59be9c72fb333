import { describe, expect, it } from "vitest";
import { advanceMaxEventTime, isWindowClosed, NO_WATERMARK, watermarkMs } from "./watermark.ts";

describe("watermarkMs", () => {
  it.each([
    [undefined, 120_000, NO_WATERMARK],
    [1_000_000, 120_000, 880_000],
    [1_000_000, 0, 1_000_000],
  ])("max %s, lateness %s → %s", (max, lateness, expected) => {
    expect(watermarkMs(max, lateness)).toBe(expected);
  });
});

describe("advanceMaxEventTime", () => {
  const now = 10_000_000;
  const skew = 300_000;
  it.each([
    ["first event sets it", undefined, 5_000_000, 5_000_000],
    ["newer event moves it", 5_000_000, 6_000_000, 6_000_000],
    ["older event leaves it", 6_000_000, 5_000_000, 6_000_000],
    ["event at the skew bound moves it", 6_000_000, now + skew, now + skew],
    ["event beyond the skew is ignored", 6_000_000, now + skew + 1, 6_000_000],
    ["event beyond the skew with nothing seen", undefined, now + skew + 1, undefined],
  ])("%s", (_name, current, eventTime, expected) => {
    expect(advanceMaxEventTime(current, eventTime, now, skew)).toBe(expected);
  });
});

describe("isWindowClosed", () => {
  it.each([
    ["watermark before the end", 0, 60_000, 59_999, false],
    ["watermark at the end closes it", 0, 60_000, 60_000, true],
    ["watermark past the end", 0, 60_000, 3_600_000, true],
    ["no watermark closes nothing", 0, 60_000, NO_WATERMARK, false],
  ])("%s", (_name, start, width, wm, expected) => {
    expect(isWindowClosed(start, width, wm)).toBe(expected);
  });
});
