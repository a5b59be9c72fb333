import { describe, expect, it } from "vitest";
import { createRecordDecoder, type RecordKind } from "../pipeline/decode-record";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";
import { createMonitoringDecoder } from "./decode-monitoring-record";

const monitoringDecode = createMonitoringDecoder(["Purchase"]);
const metricsDecode = createRecordDecoder("envelope");

/** As the processor does it: the metrics decoder validates, monitoring reads its message. */
function decode(kind: RecordKind, message: unknown) {
  const decoded = metricsDecode(kind, toValue(message));
  if (decoded.ok !== true) throw new Error(`not a valid record: ${JSON.stringify(decoded)}`);
  return monitoringDecode(decoded.message);
}

describe("decodeMonitoringRecord", () => {
  it("reads a prediction record", () => {
    const m = samplePrediction({ predictionId: "p1", scoredAtMs: Date.UTC(2026, 10, 22) });
    expect(decode("prediction", m)).toEqual({
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
    expect(decode("event", buy)).toMatchObject({
      kind: "label",
      signal: { predictionId: "p1", conversion: true, clickIds: [buy.clickIds!.fbclid] },
    });
    const view = sampleEventMessage({ eventId: "e2", eventTimeMs: 5, eventName: "PageView" });
    expect(decode("event", view)).toEqual({ kind: "skip" });
  });

  it("skips what monitoring cannot store, saying why", () => {
    const bad = { ...samplePrediction({ predictionId: "p", scoredAtMs: 0 }), score: 1.5 };
    expect(decode("prediction", bad)).toEqual({
      kind: "skip",
      reason: "score outside [0, 1]",
    });
    const nul = {
      ...samplePrediction({ predictionId: "p", scoredAtMs: 0 }),
      features: { x: "a\u0000b" },
    };
    expect(decode("prediction", nul)).toEqual({ kind: "skip", reason: "contains U+0000" });
    const long = samplePrediction({ predictionId: "p".repeat(129), scoredAtMs: 0 });
    expect(decode("prediction", long)).toEqual({ kind: "skip", reason: "prediction id too long" });
  });
});
