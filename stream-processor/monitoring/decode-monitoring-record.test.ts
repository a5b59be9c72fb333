import { describe, expect, it } from "vitest";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";
import { createMonitoringDecoder } from "./decode-monitoring-record";

const decode = createMonitoringDecoder(["Purchase"]);

describe("decodeMonitoringRecord", () => {
  it("reads a prediction record", () => {
    const m = samplePrediction({ predictionId: "p1", scoredAtMs: Date.UTC(2026, 10, 22) });
    const d = decode("prediction", toValue(m));
    expect(d).toEqual({
      kind: "prediction",
      row: {
        tenant: "acme",
        predictionId: "p1",
        model: "conversion",
        version: "1",
        entityId: undefined,
        score: 0.42,
        features: m.features,
        predictedAtMs: Date.UTC(2026, 10, 22),
      },
    });
  });

  it("reads the label signal of a conversion, and nothing from other events", () => {
    const buy = sampleEventMessage({ eventId: "e1", eventTimeMs: 5, predictionId: "p1" });
    expect(decode("event", toValue(buy))).toMatchObject({
      kind: "label",
      signal: { predictionId: "p1", conversion: true, clickIds: [buy.clickIds!.fbclid] },
    });
    const view = sampleEventMessage({ eventId: "e2", eventTimeMs: 5, eventName: "PageView" });
    expect(decode("event", toValue(view))).toEqual({ kind: "skip" });
  });

  it("skips what monitoring cannot store, saying why", () => {
    const bad = { ...samplePrediction({ predictionId: "p", scoredAtMs: 0 }), score: 1.5 };
    expect(decode("prediction", toValue(bad))).toEqual({
      kind: "skip",
      reason: "score outside [0, 1]",
    });
    const nul = {
      ...samplePrediction({ predictionId: "p", scoredAtMs: 0 }),
      features: { x: "a\u0000b" },
    };
    expect(decode("prediction", toValue(nul))).toEqual({ kind: "skip", reason: "contains U+0000" });
    expect(decode("prediction", Buffer.from("{"))).toEqual({ kind: "skip", reason: "not JSON" });
    expect(decode("prediction", null)).toEqual({ kind: "skip", reason: "no value" });
  });
});
