/** Reads what monitoring needs from a validated `predictions` or event message: the scored row, or the label signal. */
import { type LabelSignal, labelSignalOf } from "#core/monitoring";
import { type TextProblem, textProblem } from "#core/text";
import type { DecodedMessage } from "../batch/batch-stage";
import type { PredictionRow } from "./monitoring-store";

export type MonitoringRecord =
  | { kind: "prediction"; row: PredictionRow }
  | { kind: "label"; signal: LabelSignal }
  /** Nothing for monitoring (most events), or a record monitoring cannot use (`reason`). */
  | { kind: "skip"; reason?: string };

const MAX_ID_CHARS = 128;
const NOTHING: MonitoringRecord = Object.freeze({ kind: "skip" });

/**
 * The message was parsed and validated against the shared schemas by the metrics decoder; what
 * is left here are monitoring's own limits (its tables' columns).
 */
export function createMonitoringDecoder(conversionEvents: readonly string[]) {
  const conversions = new Set(conversionEvents);
  return function decodeMonitoringRecord(record: DecodedMessage): MonitoringRecord {
    if (record.kind === "event") {
      const signal = labelSignalOf(record.message, conversions);
      if (signal === undefined) return NOTHING;
      const ids = [
        signal.tenant,
        signal.eventName,
        signal.eventId,
        signal.predictionId ?? "",
        ...signal.clickIds,
      ];
      const problem = firstProblem(ids);
      if (problem !== undefined) return { kind: "skip", reason: SKIP_REASONS[problem] };
      return { kind: "label", signal };
    }
    const m = record.message;
    const predictedAtMs = Date.parse(m.scoredAt);
    // The predictions table holds probabilities only; anything else cannot be monitored.
    if (!(m.score >= 0 && m.score <= 1)) return { kind: "skip", reason: "score outside [0, 1]" };
    if (m.predictionId.length > MAX_ID_CHARS)
      return { kind: "skip", reason: "prediction id too long" };
    if (!Number.isFinite(predictedAtMs)) return { kind: "skip", reason: "bad scoredAt" };
    // Postgres text and jsonb cannot hold U+0000 or a lone surrogate: such a row would make the
    // database refuse monitoring's statements. The metrics decoder refuses them already; this
    // does not rely on it. Features are flat (name → number or string), so their names and
    // string values are checked in place rather than by serializing them (the insert serializes
    // them once, later).
    const problem =
      firstProblem([m.tenant, m.model, m.version, m.predictionId, m.entityId ?? ""]) ??
      featureProblem(m.features) ??
      firstProblem(m.reasons?.map((r) => r.feature) ?? []);
    if (problem !== undefined) return { kind: "skip", reason: SKIP_REASONS[problem] };
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
        ...(m.reasons === undefined ? {} : { reasons: m.reasons }),
        predictedAtMs,
      },
    };
  };
}

const SKIP_REASONS: Readonly<Record<TextProblem, string>> = {
  "lone-surrogate": "contains a lone UTF-16 surrogate",
  "too-deep": "nests too deep to store",
  nul: "contains U+0000",
};

function firstProblem(texts: readonly string[]): TextProblem | undefined {
  for (const text of texts) {
    const problem = textProblem(text);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function featureProblem(features: Readonly<Record<string, unknown>>): TextProblem | undefined {
  for (const name in features) {
    const value = features[name];
    const problem =
      textProblem(name) ?? (typeof value === "string" ? textProblem(value) : undefined);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
