import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PredictionRecord } from "#core/scoring";
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

  it("keeps a prediction's logged reasons, and refuses a reason named with unstorable text", () => {
    const reasons = [
      { feature: "cart_value", contribution: 0.34 },
      { feature: "device", contribution: -0.05 },
    ];
    const m = { ...samplePrediction({ predictionId: "p2", scoredAtMs: 0 }), reasons };
    expect(decode("prediction", m)).toMatchObject({ kind: "prediction", row: { reasons } });
    const noReasons = decode("prediction", samplePrediction({ predictionId: "p3", scoredAtMs: 0 }));
    expect(noReasons.kind === "prediction" && "reasons" in noReasons.row).toBe(false);
    expect(
      monitoringDecode({
        kind: "prediction",
        message: { ...m, reasons: [{ feature: "a\u0000b", contribution: 1 }] },
      }),
    ).toEqual({ kind: "skip", reason: "contains U+0000" });
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
    // As a message the metrics decoder would refuse: monitoring does not rely on it.
    const direct = (over: Partial<PredictionRecord>) =>
      monitoringDecode({
        kind: "prediction",
        message: { ...samplePrediction({ predictionId: "p", scoredAtMs: 0 }), ...over },
      });
    expect(direct({ features: { x: "a\u0000b" } })).toEqual({
      kind: "skip",
      reason: "contains U+0000",
    });
    const lone: Partial<PredictionRecord>[] = [
      { features: { device: "\ud800" } },
      { features: { "\udc00": 1 } },
      { entityId: "u-\ud83d" },
      { version: "\udfff" },
    ];
    for (const over of lone) {
      expect(direct(over)).toEqual({ kind: "skip", reason: "contains a lone UTF-16 surrogate" });
    }
    const label = monitoringDecode({
      kind: "event",
      message: {
        ...sampleEventMessage({ eventId: "e\ud800", eventTimeMs: 5, predictionId: "p1" }),
      },
    });
    expect(label).toEqual({ kind: "skip", reason: "contains a lone UTF-16 surrogate" });
    const long = samplePrediction({ predictionId: "p".repeat(129), scoredAtMs: 0 });
    expect(decode("prediction", long)).toEqual({ kind: "skip", reason: "prediction id too long" });
  });

  it("never throws and never keeps unstorable text, whatever a producer sent (property)", () => {
    const text = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.constantFrom("\ud800", "\udc00x", "a\u0000", "\ud83d\ude00"),
    );
    const storable = (v: unknown): boolean =>
      typeof v === "string"
        ? v.isWellFormed() && !v.includes("\u0000")
        : typeof v !== "object" ||
          v === null ||
          Object.entries(v).every(([k, x]) => storable(k) && storable(x));
    fc.assert(
      fc.property(
        fc.dictionary(text, fc.oneof(text, fc.double({ min: -1e6, max: 1e6, noNaN: true }))),
        text,
        text,
        (features, entityId, eventId) => {
          const p = monitoringDecode({
            kind: "prediction",
            message: {
              ...samplePrediction({ predictionId: "p", scoredAtMs: 0 }),
              features,
              entityId,
            },
          });
          if (p.kind === "prediction") expect(storable(p.row)).toBe(true);
          const e = monitoringDecode({
            kind: "event",
            message: sampleEventMessage({ eventId, eventTimeMs: 5, predictionId: "p1" }),
          });
          if (e.kind === "label") expect(storable(e.signal)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
