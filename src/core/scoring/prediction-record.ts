/** The `predictions` topic record: one scored row with the features the model saw (wire contract). */
import { z } from "zod";

/** A feature value as logged: numbers as sent (or defaulted), categories as their string. */
export const LoggedFeatureValue = z.union([z.number(), z.string()]);
export type LoggedFeatureValue = z.infer<typeof LoggedFeatureValue>;

export const PredictionRecordSchema = z.object({
  schemaVersion: z.literal(1),
  tenant: z.string().min(1),
  predictionId: z.string().min(1),
  model: z.string().min(1),
  version: z.string().min(1),
  entityId: z.string().min(1).optional(),
  /** Every manifest feature by name, after defaults; features the model does not use are not logged. */
  features: z.record(z.string(), LoggedFeatureValue),
  score: z.number(),
  /**
   * The largest Shapley contributions to the score, signed (with PREDICTION_LOG_REASONS set in
   * the Worker), in the explanation's space: logit for linear and tree models, else probability.
   */
  reasons: z.array(z.object({ feature: z.string(), contribution: z.number() })).optional(),
  /** ISO-8601 UTC time the row was scored. */
  scoredAt: z.iso.datetime(),
});

export type PredictionRecord = z.infer<typeof PredictionRecordSchema>;

/** Kafka message key of a prediction: `tenant:predictionId`. */
export function predictionKey(record: Pick<PredictionRecord, "tenant" | "predictionId">): string {
  return `${record.tenant}:${record.predictionId}`;
}
