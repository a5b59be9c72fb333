import { describe, expect, it } from "vitest";
import { summarizeWindows } from "./summarize-windows.ts";
import { MINUTE_MS } from "./window-start-ms.ts";

const W1 = Date.parse("2026-03-01T10:15:00Z");
const W2 = W1 + MINUTE_MS;

describe("summarizeWindows", () => {
  const rows = {
    totals: [
      {
        windowStartMs: W1,
        eventName: "Purchase",
        events: 4,
        late: 1,
        matchQualitySum: 30,
        matchQualityCount: 4,
        conversions: 2,
      },
      {
        windowStartMs: W1,
        eventName: "Lead",
        events: 2,
        late: 0,
        matchQualitySum: 0,
        matchQualityCount: 0,
        conversions: 0,
      },
      {
        windowStartMs: W2,
        eventName: "Purchase",
        events: 1,
        late: 0,
        matchQualitySum: 5,
        matchQualityCount: 1,
        conversions: 1,
      },
    ],
    values: [
      {
        windowStartMs: W1,
        eventName: "Purchase",
        currency: "EUR",
        valueSum: "10.500000",
        valueCount: 1,
      },
      {
        windowStartMs: W1,
        eventName: "Purchase",
        currency: "USD",
        valueSum: "99.990000",
        valueCount: 3,
      },
    ],
    predictions: [{ windowStartMs: W1, predictions: 8 }],
  };

  it("joins values and predictions to their windows and derives means and rates", () => {
    const out = summarizeWindows(rows, {
      widthMs: MINUTE_MS,
      allowedLatenessMs: 2 * MINUTE_MS,
      // Watermark = (W2 + 3 min) − 2 min = 10:17:00: both windows have ended by then.
      maxEventTimeMs: W2 + 3 * MINUTE_MS,
    });
    expect(out).toEqual([
      {
        windowStart: "2026-03-01T10:15:00.000Z",
        windowEnd: "2026-03-01T10:16:00.000Z",
        eventName: "Lead",
        closed: true,
        events: 2,
        late: 0,
        values: {},
        matchQuality: null,
        matchQualityCount: 0,
        conversions: 0,
        predictions: 8,
        conversionsPerPrediction: 0,
      },
      {
        windowStart: "2026-03-01T10:15:00.000Z",
        windowEnd: "2026-03-01T10:16:00.000Z",
        eventName: "Purchase",
        closed: true,
        events: 4,
        late: 1,
        values: { EUR: 10.5, USD: 99.99 },
        matchQuality: 7.5,
        matchQualityCount: 4,
        conversions: 2,
        predictions: 8,
        conversionsPerPrediction: 0.25,
      },
      {
        windowStart: "2026-03-01T10:16:00.000Z",
        windowEnd: "2026-03-01T10:17:00.000Z",
        eventName: "Purchase",
        // Watermark W2 + 1 min = 10:17:00 equals this window's end: closed.
        closed: true,
        events: 1,
        late: 0,
        values: {},
        matchQuality: 5,
        matchQualityCount: 1,
        conversions: 1,
        predictions: 0,
        conversionsPerPrediction: null,
      },
    ]);
  });

  it.each([
    ["no watermark: nothing closed", undefined, [false, false, false]],
    ["watermark inside the second window", W2 + 2 * MINUTE_MS + 30_000, [true, true, false]],
  ])("%s", (_name, maxEventTimeMs, closed) => {
    const out = summarizeWindows(rows, {
      widthMs: MINUTE_MS,
      allowedLatenessMs: 2 * MINUTE_MS,
      maxEventTimeMs,
    });
    expect(out.map((s) => s.closed)).toEqual(closed);
  });
});
