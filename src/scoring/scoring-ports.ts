/** The ports scoring depends on: a model runtime and the prediction log. */
import type { ExplainOutcome, ExplanationMethod } from "#core/explain";
import type { ModelManifest } from "#core/model-manifest";
import type { PredictionRecord } from "#core/scoring";

/** A model in a runtime: scores float rows. */
export interface RuntimeModel {
  /** Scores `rows` rows of `values` (row-major `[rows, columns]`); one score per row. */
  score(values: Float32Array, rows: number): Promise<Float64Array>;
  /** Frees the runtime's resources; the model is unusable afterwards. */
  release(): Promise<void>;
}

/** One loaded model, ready to score and explain float rows. */
export interface LoadedModel extends RuntimeModel {
  /** Shapley explanations of the rows, or why they cannot be given within the limits. */
  explain(values: Float32Array, rows: number): Promise<ExplainOutcome>;
  /** The explanation method of this model, or why it has none. */
  readonly explanation: { method?: ExplanationMethod; refusal?: string };
  /** "direct" when a linear or tree graph is evaluated in plain arithmetic, else the runtime. */
  readonly evaluator: "direct" | "onnxruntime";
}

export type ModelCheck = { ok: true } | { ok: false; problems: string[] };

/** Turns model bytes into something that scores and explains (onnxruntime-web in the Worker). */
export interface ModelRuntime {
  load(bytes: ArrayBuffer, manifest: ModelManifest): Promise<LoadedModel>;
  /**
   * Refuses graphs that could allocate without bound (checkOnnxGraph), loads the bytes, checks
   * tensor names, types and shapes against the manifest and scores a full batch of defaults.
   */
  check(bytes: ArrayBuffer, manifest: ModelManifest): Promise<ModelCheck>;
}

/** Where scored rows go for monitoring (the ingest queue → Kafka `predictions`). */
export interface PredictionLog {
  write(records: readonly PredictionRecord[]): Promise<void>;
}

/**
 * Keys a caller's entity id before it leaves the edge (the prediction log, Kafka, Postgres): the
 * raw id may be a user id or an email; what is stored only lets one entity's rows be grouped.
 */
export interface EntityIdKeyer {
  key(tenant: string, entityId: string): Promise<string>;
}
