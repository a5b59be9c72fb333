/** A feature's frozen drift reference: built from training data, stored in the manifest, prepared once for scans. */

import { ValidationError } from "../errors.ts";
import { addToKsSample, createKsSample, seededRandom } from "./ks-sample.ts";
import {
  type CategoricalBins,
  countCategorical,
  countNumeric,
  fitCategoricalBins,
  fitNumericBins,
  type NumericBins,
  type ReferenceBins,
} from "./reference-bins.ts";
import { buildReferenceIndex, type ReferenceIndex } from "./reference-index.ts";
import { assertNumberOption } from "./validate.ts";
import { type Binner, createBinner } from "./window-histogram.ts";

/**
 * Reference of a numeric feature (or the score), in the model manifest's shape: inner `edges` of
 * the bins (−∞, e0], (e0, e1], …, (e_last, +∞); `proportions[i]` the share of training values in
 * bin i (one more than edges); `sample` training values for KS; `count` training rows.
 */
export interface NumericReferenceDistribution {
  type: "number";
  edges: number[];
  proportions: number[];
  sample?: number[];
  count?: number;
}

/**
 * Reference of a categorical feature, in the model manifest's shape: `proportions[i]` is the
 * share of `categories[i]`; a final proportion is the share of everything else ("other").
 */
export interface CategoricalReferenceDistribution {
  type: "categorical";
  categories: string[];
  proportions: number[];
  count?: number;
}

/** A feature's frozen reference as stored in the manifest. */
export type ReferenceDistribution = NumericReferenceDistribution | CategoricalReferenceDistribution;

/** Default size of the reference sample kept for KS. */
export const DEFAULT_REFERENCE_SAMPLE_SIZE = 10_000;

/** Options of {@link buildNumericReference}. */
export interface BuildNumericReferenceOptions {
  /** Target number of quantile bins, default 10. */
  bins?: number;
  /** Training values kept for KS (uniform sample without replacement), default 10 000; 0 keeps none. */
  sampleSize?: number;
  /** Seed of the sampling, default 1, so a training run is reproducible. */
  seed?: number;
}

/**
 * Builds a numeric feature's reference from training values: quantile bins (see
 * {@link fitNumericBins}), the training proportions per bin and a seeded uniform sample for KS,
 * stored in ascending order.
 * @throws ValidationError on empty or non-finite training values or bad options
 */
export function buildNumericReference(
  training: ArrayLike<number>,
  options: BuildNumericReferenceOptions = {},
): NumericReferenceDistribution {
  const sampleSize = options.sampleSize ?? DEFAULT_REFERENCE_SAMPLE_SIZE;
  assertNumberOption(sampleSize, "sampleSize", { min: 0, max: 1_000_000, integer: true });
  const bins = fitNumericBins(training, { bins: options.bins });
  const counts = countNumeric(bins, training);
  const n = training.length;
  let sample: number[];
  if (sampleSize === 0) {
    sample = [];
  } else if (n <= sampleSize) {
    sample = Array.from(training);
  } else {
    const random = seededRandom(options.seed ?? 1);
    const s = createKsSample(sampleSize);
    for (let i = 0; i < n; i++) addToKsSample(s, training[i] as number, random());
    sample = s.values;
  }
  sample = sample.map((v) => v + 0).sort((a, b) => a - b);
  const reference: NumericReferenceDistribution = {
    type: "number",
    edges: bins.edges,
    proportions: counts.map((c) => c / n),
    count: n,
  };
  if (sample.length > 0) reference.sample = sample;
  return reference;
}

/** Options of {@link buildCategoricalReference}. */
export interface BuildCategoricalReferenceOptions {
  /** Most categories kept (by frequency), default 50; the rest share the "other" bin. */
  maxCategories?: number;
}

/**
 * Builds a categorical feature's reference from training values: the most frequent categories
 * and the training proportions per category plus "other".
 * @throws ValidationError on empty training values or values that are not strings
 */
export function buildCategoricalReference(
  training: ArrayLike<string>,
  options: BuildCategoricalReferenceOptions = {},
): CategoricalReferenceDistribution {
  const bins = fitCategoricalBins(training, options);
  const counts = countCategorical(bins, training);
  return {
    type: "categorical",
    categories: bins.categories,
    proportions: counts.map((c) => c / training.length),
    count: training.length,
  };
}

/** Frozen bins of a reference entry. */
export function referenceBins(reference: ReferenceDistribution): ReferenceBins {
  return reference.type === "number"
    ? ({ kind: "numeric", edges: reference.edges } satisfies NumericBins)
    : ({ kind: "categorical", categories: reference.categories } satisfies CategoricalBins);
}

/** A feature reference prepared once per model version and reused for every window. */
export interface PreparedFeatureReference {
  feature: string;
  type: "number" | "categorical";
  bins: ReferenceBins;
  /** Reference weights per bin (the manifest's proportions). */
  referenceWeights: number[];
  /** For counting window values into histograms over the frozen bins. */
  binner: Binner;
  /** Numeric features: merged sorted reference for fast binning and KS. */
  index: ReferenceIndex | undefined;
  /** Reference sample size for KS (0 when the reference has no sample or is categorical). */
  sampleSize: number;
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(`${field} ${message}`, [{ field, message }]);
}

/**
 * Checks a manifest reference entry and prepares it for evaluation: builds the binner and, for a
 * numeric feature, the merged sorted index of sample and edges (sorting the sample once here so
 * that each evaluation is linear in the window).
 *
 * @param feature feature name (used in error fields and in reports)
 * @throws ValidationError naming the bad field (`<feature>.edges`, `<feature>.proportions`, …)
 */
export function prepareFeatureReference(
  feature: string,
  reference: ReferenceDistribution,
): PreparedFeatureReference {
  if (reference === null || typeof reference !== "object") {
    throw invalid(feature, "must be a reference object");
  }
  if (reference.type !== "number" && reference.type !== "categorical") {
    throw invalid(`${feature}.type`, 'must be "number" or "categorical"');
  }
  const bins = referenceBins(reference);
  let binner: Binner;
  try {
    binner = createBinner(bins);
  } catch (error) {
    if (error instanceof ValidationError) {
      const field = error.issues[0]?.field.replace(/^bins\.(edges|categories)/, `${feature}.$1`);
      throw new ValidationError(`${feature}: ${error.message}`, [
        { field: field ?? feature, message: error.issues[0]?.message ?? error.message },
      ]);
    }
    throw error;
  }
  const weights = reference.proportions;
  if (!Array.isArray(weights) || weights.length !== binner.binCount) {
    throw invalid(
      `${feature}.proportions`,
      `must have ${binner.binCount} entries (one per bin), got ${Array.isArray(weights) ? weights.length : String(weights)}`,
    );
  }
  let total = 0;
  for (const [i, w] of weights.entries()) {
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
      throw invalid(`${feature}.proportions.${i}`, "must be a finite non-negative number");
    }
    total += w;
  }
  if (!(total > 0)) throw invalid(`${feature}.proportions`, "must not all be zero");
  let index: ReferenceIndex | undefined;
  let sampleSize = 0;
  if (reference.type === "number") {
    const sample = reference.sample ?? [];
    if (!Array.isArray(sample)) throw invalid(`${feature}.sample`, "must be an array of numbers");
    for (const [i, v] of sample.entries()) {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw invalid(`${feature}.sample.${i}`, "must be a finite number");
      }
    }
    index = buildReferenceIndex(reference.edges, sample);
    sampleSize = sample.length;
  }
  return {
    feature,
    type: reference.type,
    bins,
    referenceWeights: [...weights],
    binner,
    index,
    sampleSize,
  };
}
