/** Reads what monitoring needs from a raw `predictions` or event record: the scored row, or the label signal. */
import { eventMessageSchema } from "../../src/core/events/event-message-schema";
import { type LabelSignal, labelSignalOf } from "../../src/core/monitoring/index";
import { PredictionRecordSchema } from "../../src/core/scoring/prediction-record";
import type { PredictionRow } from "./monitoring-store";

export type MonitoringRecord =
  | { kind: "prediction"; row: PredictionRow }
  | { kind: "label"; signal: LabelSignal }
  /** Nothing for monitoring (most events), or a record monitoring cannot use (`reason`). */
  | { kind: "skip"; reason?: string };

/** The event fields the label join reads; the metrics decoder has already validated the rest. */
const labelFieldsSchema = eventMessageSchema.pick({
  tenant: true,
  eventName: true,
  eventId: true,
  eventTimeMs: true,
  predictionId: true,
  clickIds: true,
});

const MAX_ID_CHARS = 128;

export function createMonitoringDecoder(conversionEvents: readonly string[]) {
  const conversions = new Set(conversionEvents);
  return function decodeMonitoringRecord(
    kind: "event" | "prediction",
    value: Buffer | Uint8Array | string | null,
  ): MonitoringRecord {
    if (value === null || value.length === 0) return { kind: "skip", reason: "no value" };
    let json: unknown;
    try {
      json = JSON.parse(typeof value === "string" ? value : Buffer.from(value).toString("utf8"));
    } catch {
      return { kind: "skip", reason: "not JSON" };
    }
    if (kind === "event") {
      const parsed = labelFieldsSchema.safeParse(json);
      if (!parsed.success) return { kind: "skip", reason: "not an event message" };
      const signal = labelSignalOf(parsed.data, conversions);
      if (signal === undefined) return { kind: "skip" };
      const ids = [
        signal.tenant,
        signal.eventName,
        signal.eventId,
        signal.predictionId ?? "",
        ...signal.clickIds,
      ];
      if (ids.some((s) => s.includes("\u0000"))) return { kind: "skip", reason: "contains U+0000" };
      return { kind: "label", signal };
    }
    const parsed = PredictionRecordSchema.safeParse(json);
    if (!parsed.success) return { kind: "skip", reason: "not a prediction record" };
    const m = parsed.data;
    const predictedAtMs = Date.parse(m.scoredAt);
    // The predictions table holds probabilities only; anything else cannot be monitored.
    if (!(m.score >= 0 && m.score <= 1)) return { kind: "skip", reason: "score outside [0, 1]" };
    if (m.predictionId.length > MAX_ID_CHARS)
      return { kind: "skip", reason: "prediction id too long" };
    if (!Number.isFinite(predictedAtMs)) return { kind: "skip", reason: "bad scoredAt" };
    // Postgres text and jsonb cannot hold U+0000: such a row would make the batch's commit fail.
    if (
      [m.tenant, m.model, m.version, m.predictionId, m.entityId ?? ""].some((s) =>
        s.includes("\u0000"),
      ) ||
      JSON.stringify(m.features).includes("\\u0000")
    ) {
      return { kind: "skip", reason: "contains U+0000" };
    }
    return {
      kind: "prediction",
      row: {
        tenant: m.tenant,
        predictionId: m.predictionId,
        model: m.model,
        version: m.version,
        entityId: m.entityId,
        score: m.score,
        features: m.features,
        predictedAtMs,
      },
    };
  };
}
