/** A one-hidden-layer perceptron (tanh, sigmoid output) trained with Adam on log loss. */
import type { ManifestFeature } from "../model-manifest.ts";
import { createRandom, shuffledIndices } from "../random/index.ts";
import {
  expandedWidth,
  expandMatrix,
  expandRow,
  fitStandardizer,
  type InputColumn,
  inputColumns,
  type Matrix,
  sigmoid,
  standardize,
} from "./design-matrix.ts";

export interface MlpOptions {
  seed: number;
  hidden?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** L2 penalty on the weights (not biases), added to the mean batch loss as λ/2 · ‖W‖². */
  l2?: number;
}

/** Weights act on raw expanded inputs (standardisation folded into the first layer). */
export interface MlpModel {
  kind: "mlp";
  columns: InputColumn[];
  /** inputs × hidden, row-major: w1[i * hidden + h]. */
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  b2: number;
  hidden: number;
}

/**
 * Deterministic for a seed: the initial weights (Glorot uniform) and each epoch's mini-batch
 * order come from the seeded generator, and the arithmetic order is fixed.
 */
export function trainMlp(
  features: readonly ManifestFeature[],
  x: Matrix,
  y: ArrayLike<number>,
  options: MlpOptions,
): MlpModel {
  const {
    seed,
    hidden: H = 16,
    epochs = 30,
    batchSize = 128,
    learningRate = 0.003,
    l2 = 1e-4,
  } = options;
  const columns = inputColumns(features);
  const expanded = expandMatrix(columns, x);
  const scaler = fitStandardizer(columns, expanded);
  const z = standardize(expanded, scaler);
  const D = z.cols;
  const random = createRandom(seed);

  // Parameters in one vector: w1 (D·H), b1 (H), w2 (H), b2 (1).
  const o1 = 0;
  const ob1 = D * H;
  const ow2 = ob1 + H;
  const ob2 = ow2 + H;
  const size = ob2 + 1;
  const theta = new Float64Array(size);
  const limit1 = Math.sqrt(6 / (D + H));
  for (let k = 0; k < D * H; k++) theta[o1 + k] = (2 * random.next() - 1) * limit1;
  const limit2 = Math.sqrt(6 / (H + 1));
  for (let h = 0; h < H; h++) theta[ow2 + h] = (2 * random.next() - 1) * limit2;
  let positives = 0;
  for (let i = 0; i < x.rows; i++) positives += y[i]!;
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / x.rows));
  theta[ob2] = Math.log(rate / (1 - rate));

  const m = new Float64Array(size);
  const v = new Float64Array(size);
  const grad = new Float64Array(size);
  const a = new Float64Array(H);
  const beta1 = 0.9;
  const beta2 = 0.999;
  let t = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffledIndices(x.rows, random);
    for (let start = 0; start < x.rows; start += batchSize) {
      const end = Math.min(x.rows, start + batchSize);
      grad.fill(0);
      for (let b = start; b < end; b++) {
        const i = order[b]!;
        const row = z.data.subarray(i * D, (i + 1) * D);
        let out = theta[ob2]!;
        for (let h = 0; h < H; h++) {
          let s = theta[ob1 + h]!;
          for (let j = 0; j < D; j++) s += row[j]! * theta[o1 + j * H + h]!;
          a[h] = Math.tanh(s);
          out += a[h]! * theta[ow2 + h]!;
        }
        // d logloss / d out = p − y for a sigmoid output.
        const delta = sigmoid(out) - y[i]!;
        grad[ob2] = grad[ob2]! + delta;
        for (let h = 0; h < H; h++) {
          grad[ow2 + h] = grad[ow2 + h]! + delta * a[h]!;
          const dh = delta * theta[ow2 + h]! * (1 - a[h]! * a[h]!);
          grad[ob1 + h] = grad[ob1 + h]! + dh;
          for (let j = 0; j < D; j++) grad[o1 + j * H + h] = grad[o1 + j * H + h]! + dh * row[j]!;
        }
      }
      const count = end - start;
      t++;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (let k = 0; k < size; k++) {
        const isWeight = k < ob1 || (k >= ow2 && k < ob2);
        const g = grad[k]! / count + (isWeight ? l2 * theta[k]! : 0);
        m[k] = beta1 * m[k]! + (1 - beta1) * g;
        v[k] = beta2 * v[k]! + (1 - beta2) * g * g;
        theta[k] = theta[k]! - (learningRate * (m[k]! / c1)) / (Math.sqrt(v[k]! / c2) + 1e-8);
      }
    }
  }

  // Fold (x − μ)/s into the first layer: w1' = w1/s, b1' = b1 − Σ_j w1_j μ_j / s_j.
  const w1 = new Float64Array(D * H);
  const b1 = theta.slice(ob1, ob1 + H);
  for (let j = 0; j < D; j++) {
    for (let h = 0; h < H; h++) {
      const w = theta[o1 + j * H + h]!;
      w1[j * H + h] = w / scaler.scale[j]!;
      b1[h] = b1[h]! - (w * scaler.mean[j]!) / scaler.scale[j]!;
    }
  }
  return {
    kind: "mlp",
    columns,
    w1,
    b1,
    w2: theta.slice(ow2, ow2 + H),
    b2: theta[ob2]!,
    hidden: H,
  };
}

export function predictMlp(model: MlpModel, x: ArrayLike<number>): number {
  const D = expandedWidth(model.columns);
  const row = expandRow(model.columns, x, new Float64Array(D));
  let out = model.b2;
  for (let h = 0; h < model.hidden; h++) {
    let s = model.b1[h]!;
    for (let j = 0; j < D; j++) s += row[j]! * model.w1[j * model.hidden + h]!;
    out += Math.tanh(s) * model.w2[h]!;
  }
  return sigmoid(out);
}
