import { describe, expect, it } from "vitest";
import {
  isRetirableMetric,
  KPI_METRICS,
  type MinuteRow,
  seriesKey,
  seriesPointsOf,
} from "./kpi-series";

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
  it("adds a CAPI events count and a match quality per Meta pixel", () => {
    const pixel = (p: string, eventCount: number, mqSum: number, mqCount: number) => ({
      windowStartMs: 0,
      pixel: p,
      eventCount,
      matchQualitySum: mqSum,
      matchQualityCount: mqCount,
    });
    const points = seriesPointsOf([], [], [], [pixel("111", 5, 30, 5), pixel("222", 0, 0, 0)]);
    expect(points).toEqual([
      {
        key: seriesKey("pixel-events", { source: "capi", pixel: "111" }),
        metric: "pixel-events",
        dimensions: { source: "capi", pixel: "111" },
        value: 5,
      },
      {
        key: seriesKey("pixel-match-quality", { source: "capi", pixel: "111" }),
        metric: "pixel-match-quality",
        dimensions: { source: "capi", pixel: "111" },
        value: 6,
      },
    ]);
    expect(isRetirableMetric("pixel-events")).toBe(true);
    expect(KPI_METRICS["pixel-match-quality"]).toMatchObject({ kind: "level", direction: "down" });
  });

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

  it("turns ingest outcomes into rejected and duplicate shares, and scores into a mean per model", () => {
    const points = seriesPointsOf(
      [],
      [
        // 30 answered for: 20 accepted (2 of them copies), 4 duplicates, 6 rejected.
        { windowStartMs: 0, source: "web", accepted: 20, duplicates: 4, rejected: 6, copies: 2 },
        // Nothing answered for: no point rather than 0 / 0.
        { windowStartMs: 0, source: "capi", accepted: 0, duplicates: 0, rejected: 0, copies: 0 },
      ],
      [
        { windowStartMs: 0, model: "churn", scoreSum: 1.5, count: 4 },
        { windowStartMs: 0, model: "empty", scoreSum: 0, count: 0 },
      ],
    );
    expect(Object.fromEntries(points.map((p) => [p.key, p.value]))).toEqual({
      [seriesKey("rejected-share", { source: "web" })]: 6 / 30,
      [seriesKey("duplicate-share", { source: "web" })]: 4 / 30,
      [seriesKey("mean-score", { model: "churn" })]: 0.375,
    });
  });

  it("retires only event name, campaign and pixel series; shares and scores are levels", () => {
    expect(
      (Object.keys(KPI_METRICS) as (keyof typeof KPI_METRICS)[]).filter(isRetirableMetric),
    ).toEqual(["events", "conversions", "value", "pixel-events"]);
    expect(KPI_METRICS["rejected-share"]).toMatchObject({ kind: "level", direction: "up" });
    expect(KPI_METRICS["mean-score"]).toMatchObject({ kind: "level" });
  });

  it("keys are unambiguous even when dimension values contain separators", () => {
    expect(seriesKey("events", { source: "a|b", eventName: "c", campaign: "" })).not.toBe(
      seriesKey("events", { source: "a", eventName: "b|c", campaign: "" }),
    );
  });
});
