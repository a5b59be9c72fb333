/** Interventional Shapley values of any model by permutation sampling, in probability space. */
import { createRandom, shuffledIndices } from "../random/index.ts";
import type { BackgroundMatrix } from "./background.ts";
import type { ColumnExplanation } from "./explanation.ts";

// Each sample draws a background row z and an order of the features, then walks from z to x by
// switching features to x's values in that order, and back in the reverse order (antithetic
// pairs, as shap's PermutationExplainer does); a feature's share of one sample is the mean of the
// two changes its switch made. Every walk telescopes to f(x) − f(z), so base = the mean f(z) over
// the samples and base + Σ φ = f(x) exactly, whatever the sampling error. The standard error
// reported is the largest of the features' (sample standard deviation / √samples).

/** Scores row-major rows with the model (onnxruntime in the Worker); one score per row. */
export type BatchScorer = (values: Float32Array, rows: number) => Promise<Float64Array>;

export interface PermutationOptions {
  /** Antithetic sample pairs; each costs 2·(columns − 1) + 1 model evaluations. */
  samples: number;
  /** Rows per scorer call (the runtime's batch limit). */
  maxBatchRows: number;
  seed: number;
}

/** Model evaluations one explained row costs with `samples` sample pairs. */
export function permutationEvaluations(columns: number, samples: number): number {
  return samples * (2 * Math.max(0, columns - 1) + 1) + 1;
}

/**
 * Explains each row of `values` (`rows` × background.columns); all evaluations of all rows go to
 * `score` in batches of at most `maxBatchRows`.
 */
export async function explainByPermutation(
  score: BatchScorer,
  background: BackgroundMatrix,
  values: Float32Array,
  rows: number,
  options: PermutationOptions,
): Promise<ColumnExplanation[]> {
  const d = background.columns;
  const samples = options.samples;
  const perRow = permutationEvaluations(d, samples);
  const random = createRandom(options.seed);
  // One order per sample, shared by the rows of the request.
  const orders = Array.from({ length: samples }, () => shuffledIndices(d, random));
  // States are scored a batch at a time as they are generated, so memory stays at one batch. A
  // switch to a value the state already holds (x and z agree on that feature) repeats the previous
  // state: it is not scored again, `source` points at the earlier score.
  const total = rows * perRow;
  const scores = new Float64Array(total);
  const source = new Int32Array(total);
  const batch = new Float32Array(options.maxBatchRows * d);
  let logical = 0;
  let inBatch = 0;
  let scored = 0;
  let last = 0;
  const flush = async () => {
    if (inBatch === 0) return;
    scores.set(await score(batch.subarray(0, inBatch * d), inBatch), scored);
    scored += inBatch;
    inBatch = 0;
  };
  /** Adds a state (or repeats the last one); true when the batch is full and must be flushed. */
  const push = (row: Float32Array, changed: boolean): boolean => {
    if (!changed) {
      source[logical++] = last;
      return false;
    }
    last = scored + inBatch;
    source[logical++] = last;
    batch.set(row, inBatch * d);
    inBatch++;
    return inBatch === options.maxBatchRows;
  };
  const current = new Float32Array(d);
  for (let r = 0; r < rows; r++) {
    const x = values.subarray(r * d, (r + 1) * d);
    if (push(x, true)) await flush();
    for (let s = 0; s < samples; s++) {
      const zAt = (s % background.rows) * d;
      const z = background.values.subarray(zAt, zAt + d);
      if (push(z, true)) await flush();
      const zIndex = last;
      const order = orders[s]!;
      // Forward: z → x switching order[0], order[1], …; the last state is x itself.
      current.set(z);
      for (let i = 0; i < d - 1; i++) {
        const c = order[i]!;
        const changed = current[c] !== x[c];
        current[c] = x[c]!;
        if (push(current, changed)) await flush();
      }
      // Backward: z → x switching in the reverse order.
      current.set(z);
      last = zIndex;
      for (let i = d - 1; i > 0; i--) {
        const c = order[i]!;
        const changed = current[c] !== x[c];
        current[c] = x[c]!;
        if (push(current, changed)) await flush();
      }
    }
  }
  await flush();
  const at = (i: number) => scores[source[i]!]!;

  const out: ColumnExplanation[] = [];
  const sum = new Float64Array(d);
  const sumSquares = new Float64Array(d);
  const share = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    sum.fill(0);
    sumSquares.fill(0);
    let k = r * perRow;
    const fx = at(k++);
    let baseSum = 0;
    for (let s = 0; s < samples; s++) {
      const order = orders[s]!;
      const fz = at(k++);
      baseSum += fz;
      share.fill(0);
      let previous = fz;
      for (let i = 0; i < d; i++) {
        const next = i === d - 1 ? fx : at(k + i);
        share[order[i]!] = share[order[i]!]! + (next - previous) / 2;
        previous = next;
      }
      k += d - 1;
      previous = fz;
      for (let i = d - 1, j = 0; i >= 0; i--, j++) {
        const next = i === 0 ? fx : at(k + j);
        share[order[i]!] = share[order[i]!]! + (next - previous) / 2;
        previous = next;
      }
      k += d - 1;
      for (let c = 0; c < d; c++) {
        sum[c] = sum[c]! + share[c]!;
        sumSquares[c] = sumSquares[c]! + share[c]! * share[c]!;
      }
    }
    const contributions = new Float64Array(d);
    let stdError = 0;
    for (let c = 0; c < d; c++) {
      const mean = sum[c]! / samples;
      contributions[c] = mean;
      if (samples > 1) {
        const variance = Math.max(0, (sumSquares[c]! - samples * mean * mean) / (samples - 1));
        stdError = Math.max(stdError, Math.sqrt(variance / samples));
      }
    }
    out.push({
      base: baseSum / samples,
      contributions,
      space: "probability",
      method: "permutation",
      stdError,
    });
  }
  return out;
}
