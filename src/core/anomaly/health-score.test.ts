import { describe, expect, it } from "vitest";
import { computeHealthScore, type OpenAnomalyInput } from "./health-score.ts";

const drop: OpenAnomalyInput = {
  metric: "events",
  dimensions: { source: "capi", eventName: "Purchase", campaign: "" },
  reason: "drop-to-zero",
  score: 0.6,
  expected: 3.2,
  observed: 0,
  detectedAtMs: Date.UTC(2026, 0, 5, 2, 7),
};

describe("computeHealthScore", () => {
  it("is 100 and healthy with nothing wrong, and lists each known factor as ok", () => {
    const h = computeHealthScore({
      openAnomalies: [],
      matchQuality: { mean: 7.9, events: 1_000 },
      rejectedShare: 0.001,
      duplicateShare: 0.1,
      driftingColumns: 0,
      degradedModels: 0,
    });
    expect(h.score).toBe(100);
    expect(h.status).toBe("healthy");
    expect(h.factors.map((f) => [f.factor, f.status])).toEqual([
      ["volume-anomalies", "ok"],
      ["match-quality", "ok"],
      ["rejected-share", "ok"],
      ["duplicate-share", "ok"],
      ["drift", "ok"],
      ["performance", "ok"],
    ]);
    expect(h.recommendations).toEqual([]);
  });

  it("adds up the penalties (hand-computed) and puts the most urgent advice first", () => {
    const h = computeHealthScore({
      openAnomalies: [drop],
      matchQuality: { mean: 4.1, events: 500 },
      rejectedShare: 0.05,
    });
    // 35 (a drop to zero) + round((6 − 4.1) · 10) = 19 + round(0.05 · 100) = 5 → 100 − 59.
    expect(h.factors.map((f) => f.penalty)).toEqual([35, 19, 5]);
    expect(h.score).toBe(41);
    expect(h.status).toBe("critical");
    expect(h.recommendations[0]).toBe(
      "check the integration sending events of `Purchase` (capi): nothing since 2026-01-05 02:07 UTC, about 3.2 a minute expected",
    );
    expect(h.recommendations[1]).toMatch(
      /^send `em`, `ph` and `external_id`.*: match quality 4\.1, ≥ 6 expected$/,
    );
  });

  it("caps the anomaly penalty and never goes below 0", () => {
    const many = Array.from({ length: 10 }, () => drop);
    const h = computeHealthScore({ openAnomalies: many, degradedModels: 5, driftingColumns: 9 });
    expect(h.factors[0]!.penalty).toBe(60);
    expect(h.score).toBe(0);
  });
});
