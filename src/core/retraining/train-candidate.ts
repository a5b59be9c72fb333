/** Trains a candidate of a trainable family on encoded rows: the model, its ONNX bytes and its own predict function. */
import type { ManifestFeature } from "../model-manifest.ts";
import type { Matrix } from "../training/design-matrix.ts";
import { type GbtOptions, predictGbt, trainGbt } from "../training/gradient-boosted-trees.ts";
import { predictLinear, trainLogisticModel } from "../training/logistic-regression.ts";
import { predictMlp, trainMlp } from "../training/mlp.ts";
import { exportGbtModel, exportLinearModel, exportMlpModel } from "../training/onnx/export-onnx.ts";

/** The model families Driftline trains itself; a manifest's `training.algorithm` names one. */
export const TRAINABLE_ALGORITHMS = ["logistic-regression", "mlp", "gbt"] as const;
export type TrainableAlgorithm = (typeof TRAINABLE_ALGORITHMS)[number];

export function isTrainableAlgorithm(value: unknown): value is TrainableAlgorithm {
  return TRAINABLE_ALGORITHMS.includes(value as TrainableAlgorithm);
}

export interface TrainedCandidate {
  algorithm: TrainableAlgorithm;
  onnx: Uint8Array;
  /** The model's own (double precision) probability for an encoded row. */
  predict: (x: ArrayLike<number>) => number;
  /** Column of the output tensor holding the score. */
  outputIndex: number;
  description: string;
}

export interface TrainCandidateInput {
  algorithm: TrainableAlgorithm;
  features: readonly ManifestFeature[];
  x: Matrix;
  y: ArrayLike<number>;
  /** Seeds the MLP's initialisation and batches; the other families are deterministic. */
  seed: number;
  /** The ONNX graph's name, e.g. `conversion-7`. */
  graphName: string;
  gbt?: GbtOptions;
}

/** Deterministic: the same rows and seed give the same bytes, so a restarted training repeats itself. */
export function trainCandidate(input: TrainCandidateInput): TrainedCandidate {
  const exportOptions = { name: input.graphName };
  switch (input.algorithm) {
    case "logistic-regression": {
      const model = trainLogisticModel(input.features, input.x, input.y);
      return {
        algorithm: input.algorithm,
        onnx: exportLinearModel(model, exportOptions),
        predict: (v) => predictLinear(model, v),
        outputIndex: 0,
        description: "Logistic regression on one-hot categoricals; output probability [batch, 1].",
      };
    }
    case "mlp": {
      const model = trainMlp(input.features, input.x, input.y, { seed: input.seed });
      return {
        algorithm: input.algorithm,
        onnx: exportMlpModel(model, exportOptions),
        predict: (v) => predictMlp(model, v),
        outputIndex: 0,
        description: `MLP, one hidden layer of ${model.hidden} tanh units; output probability [batch, 1].`,
      };
    }
    case "gbt": {
      const model = trainGbt(input.x, input.y, input.gbt);
      return {
        algorithm: input.algorithm,
        onnx: exportGbtModel(model, exportOptions),
        predict: (v) => predictGbt(model, v),
        outputIndex: 1,
        description: `${model.trees.length} gradient-boosted trees of depth ≤ 3 (ai.onnx.ml TreeEnsembleClassifier); outputs label [batch] and probability [batch, 2] = [1 − p, p].`,
      };
    }
  }
}
