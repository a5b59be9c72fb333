import { describe, expect, it } from "vitest";
import { type MinuteRow, seriesKey, seriesPointsOf } from "./kpi-series";

const row = (o: Partial<MinuteRow>): MinuteRow => ({
  windowStartMs: 0,
  source: "web",
  eventName: "Purchase",
  campaign: "",
  eventCount: 0,
  matchQualitySum: 0,
  matchQualityCount: 0,
  predictionCount: 0,
  conversionCount: 0,
  values: [],
  ...o,
});

describe("seriesPointsOf", () => {
  it("turns a minute's window rows into the watched series' values", () => {
    const points = seriesPointsOf([
      row({
        eventCount: 4,
        conversionCount: 1,
        matchQualitySum: 24,
        matchQualityCount: 4,
        values: [
          { currency: "EUR", sum: 100, count: 4 },
          { currency: "USD", sum: 0, count: 0 },
        ],
      }),
      row({
        eventName: "Lead",
        campaign: "spring",
        eventCount: 2,
        matchQualitySum: 16,
        matchQualityCount: 2,
      }),
      row({ source: "capi", eventCount: 1, matchQualitySum: 9, matchQualityCount: 1 }),
      row({ source: "predictions", eventName: "conversion", predictionCount: 7 }),
    ]);
    const byKey = Object.fromEntries(points.map((p) => [p.key, p.value]));
    const web = { source: "web", eventName: "Purchase", campaign: "" };
    expect(byKey).toEqual({
      [seriesKey("events", web)]: 4,
      [seriesKey("conversions", web)]: 1,
      [seriesKey("value", { ...web, currency: "EUR" })]: 25,
      [seriesKey("events", { source: "web", eventName: "Lead", campaign: "spring" })]: 2,
      [seriesKey("events", { source: "capi", eventName: "Purchase", campaign: "" })]: 1,
      [seriesKey("predictions", { model: "conversion" })]: 7,
      // Match quality per source, weighted by events: (24 + 16) / (4 + 2).
      [seriesKey("match-quality", { source: "web" })]: 40 / 6,
      [seriesKey("match-quality", { source: "capi" })]: 9,
    });
  });

  it("keys are unambiguous even when dimension values contain separators", () => {
    expect(seriesKey("events", { source: "a|b", eventName: "c", campaign: "" })).not.toBe(
      seriesKey("events", { source: "a", eventName: "b|c", campaign: "" }),
    );
  });
});
