/** Reference bins frozen from training data: quantile edges for numbers, top categories plus "other" for strings. */

import { quantileSorted } from "simple-statistics";
import { ValidationError } from "../errors.ts";
import { assertFiniteSample, assertNumberOption } from "./validate.ts";

/**
 * Numeric bins given by k strictly increasing interior edges e1 < … < ek, making k + 1 bins that
 * are closed on the right and open at both ends of the line:
 *
 *     bin 0 = (−∞, e1],  bin i = (ei, ei+1],  bin k = (ek, +∞)
 *
 * so a value equal to an edge belongs to the bin below it (numpy:
 * `searchsorted(edges, x, side="left")`, `digitize(x, edges, right=True)`). Every finite value
 * has a bin, including values outside the training range.
 */
export interface NumericBins {
  kind: "numeric";
  /** Interior edges, strictly increasing and finite; may be empty (one bin holding everything). */
  edges: number[];
}

/**
 * Categorical bins: one bin per reference category, in this order, plus a last "other" bin for
 * every value that is not a reference category (new or rare categories).
 */
export interface CategoricalBins {
  kind: "categorical";
  /** Distinct reference categories; bin i holds categories[i], bin categories.length is "other". */
  categories: string[];
}

/** Frozen binning of one feature, stored with the model's reference and with every PSI result. */
export type ReferenceBins = NumericBins | CategoricalBins;

/** Default number of quantile bins fitted on training data. */
export const DEFAULT_BIN_COUNT = 10;
/** Default number of categories kept before the rest go to "other". */
export const DEFAULT_MAX_CATEGORIES = 50;
/** Display label of the categorical "other" bin. */
export const OTHER_BIN_LABEL = "(other)";

/** Options of {@link fitNumericBins}. */
export interface FitNumericBinsOptions {
  /** Target number of bins (2 … 1000), default 10. Ties in the data can leave fewer. */
  bins?: number;
}

/**
 * Fits quantile edges on training data: the interior quantiles at probabilities j/B, j = 1 … B−1,
 * with linear interpolation between order statistics (numpy's default `method="linear"`, R
 * type 7; computed by simple-statistics' quantileSorted), then equal edges removed. With
 * discrete or heavily tied data the result has fewer than B bins, e.g. a 0/1 feature gets edges
 * [0, 1] (bins (−∞,0], (0,1], (1,∞)) instead of nine copies of the same edge.
 *
 * @throws ValidationError on an empty sample, non-finite values or a bad `bins` option
 */
export function fitNumericBins(
  training: ArrayLike<number>,
  options: FitNumericBinsOptions = {},
): NumericBins {
  const bins = options.bins ?? DEFAULT_BIN_COUNT;
  assertNumberOption(bins, "bins", { min: 2, max: 1000, integer: true });
  assertFiniteSample(training, "training");
  const sorted = Float64Array.from(training);
  sorted.sort();
  const asArray = Array.from(sorted);
  const edges: number[] = [];
  for (let j = 1; j < bins; j++) {
    // + 0 turns −0 into 0 so that edges serialise and compare canonically
    const q = quantileSorted(asArray, j / bins) + 0;
    if (edges.length === 0 || q > (edges[edges.length - 1] as number)) edges.push(q);
  }
  return { kind: "numeric", edges };
}

/** Options of {@link fitCategoricalBins}. */
export interface FitCategoricalBinsOptions {
  /** Most categories kept (by frequency; ties by name), default 50; the rest count as "other". */
  maxCategories?: number;
}

/**
 * Fits categorical bins: the most frequent training categories (at most `maxCategories`, ordered
 * by descending count, then by name), plus the implicit "other" bin.
 *
 * @throws ValidationError on an empty sample or a value that is not a string
 */
export function fitCategoricalBins(
  training: ArrayLike<string>,
  options: FitCategoricalBinsOptions = {},
): CategoricalBins {
  const maxCategories = options.maxCategories ?? DEFAULT_MAX_CATEGORIES;
  assertNumberOption(maxCategories, "maxCategories", { min: 1, max: 10_000, integer: true });
  assertCategorySample(training, "training");
  const counts = new Map<string, number>();
  for (let i = 0; i < training.length; i++) {
    const v = training[i] as string;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort((x, y) =>
    y[1] !== x[1] ? y[1] - x[1] : x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0,
  );
  return { kind: "categorical", categories: ranked.slice(0, maxCategories).map(([c]) => c) };
}

function assertCategorySample(values: ArrayLike<string>, field: string): void {
  if (values === null || typeof values !== "object" || typeof values.length !== "number") {
    throw new ValidationError(`${field} must be an array of strings`, [
      { field, message: "expected an array of strings" },
    ]);
  }
  if (values.length === 0) {
    throw new ValidationError(`${field} is empty: at least one value is needed`, [
      { field, message: "must not be empty" },
    ]);
  }
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== "string") {
      throw new ValidationError(
        `${field}[${i}] is ${String(values[i])}: categorical values must be strings`,
        [{ field: `${field}.${i}`, message: "must be a string" }],
      );
    }
  }
}

/** Number of bins, including the open outer bins (numeric) or the "other" bin (categorical). */
export function binCountOf(bins: ReferenceBins): number {
  return bins.kind === "numeric" ? bins.edges.length + 1 : bins.categories.length + 1;
}

/**
 * Bin of a numeric value: the number of edges strictly below it, i.e. bin i holds (e_i, e_i+1].
 * Linear scan for the usual ≤ 16 edges (branch-predictable), binary search beyond.
 */
export function numericBinIndex(edges: ArrayLike<number>, value: number): number {
  const k = edges.length;
  if (k <= 16) {
    let i = 0;
    while (i < k && (edges[i] as number) < value) i++;
    return i;
  }
  let lo = 0;
  let hi = k;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Checks frozen bins (e.g. read back from a manifest or the database).
 *
 * @throws ValidationError when edges are not finite and strictly increasing, or categories are
 *   not distinct strings
 */
export function assertBins(bins: ReferenceBins, field = "bins"): void {
  if (bins === null || typeof bins !== "object") {
    throw new ValidationError(`${field} must be an object with kind "numeric" or "categorical"`, [
      { field, message: "expected bins" },
    ]);
  }
  if (bins.kind === "numeric") {
    if (!Array.isArray(bins.edges)) {
      throw new ValidationError(`${field}.edges must be an array of numbers`, [
        { field: `${field}.edges`, message: "expected an array" },
      ]);
    }
    for (let i = 0; i < bins.edges.length; i++) {
      const e = bins.edges[i];
      if (typeof e !== "number" || !Number.isFinite(e)) {
        throw new ValidationError(`${field}.edges[${i}] is ${String(e)}: edges must be finite`, [
          { field: `${field}.edges.${i}`, message: "must be a finite number" },
        ]);
      }
      if (i > 0 && !(e > (bins.edges[i - 1] as number))) {
        throw new ValidationError(
          `${field}.edges[${i}] = ${e} is not above the previous edge: edges must be strictly increasing`,
          [{ field: `${field}.edges.${i}`, message: "must be greater than the previous edge" }],
        );
      }
    }
    return;
  }
  if (bins.kind === "categorical") {
    if (!Array.isArray(bins.categories)) {
      throw new ValidationError(`${field}.categories must be an array of strings`, [
        { field: `${field}.categories`, message: "expected an array" },
      ]);
    }
    const seen = new Set<string>();
    for (let i = 0; i < bins.categories.length; i++) {
      const c = bins.categories[i];
      if (typeof c !== "string" || seen.has(c)) {
        throw new ValidationError(
          `${field}.categories[${i}] is ${JSON.stringify(c)}: categories must be distinct strings`,
          [{ field: `${field}.categories.${i}`, message: "must be a distinct string" }],
        );
      }
      seen.add(c);
    }
    return;
  }
  throw new ValidationError(
    `${field}.kind is ${JSON.stringify((bins as { kind?: unknown }).kind)}: use "numeric" or "categorical"`,
    [{ field: `${field}.kind`, message: 'must be "numeric" or "categorical"' }],
  );
}

/** Counts per numeric bin (length edges.length + 1). @throws ValidationError on non-finite values */
export function countNumeric(bins: NumericBins, values: ArrayLike<number>): number[] {
  const counts = new Array<number>(bins.edges.length + 1).fill(0);
  const edges = Float64Array.from(bins.edges);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ValidationError(
        `values[${i}] is ${String(v)}: every value must be a finite number`,
        [{ field: `values.${i}`, message: "must be a finite number" }],
      );
    }
    const b = numericBinIndex(edges, v);
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

/** Index of each category's bin; values not in the map belong to the "other" bin. */
export function categoryIndex(bins: CategoricalBins): Map<string, number> {
  return new Map(bins.categories.map((c, i) => [c, i]));
}

/** Counts per categorical bin (length categories.length + 1, the last being "other"). */
export function countCategorical(bins: CategoricalBins, values: ArrayLike<string>): number[] {
  const other = bins.categories.length;
  const index = categoryIndex(bins);
  const counts = new Array<number>(other + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "string") {
      throw new ValidationError(
        `values[${i}] is ${String(v)}: categorical values must be strings`,
        [{ field: `values.${i}`, message: "must be a string" }],
      );
    }
    const b = index.get(v) ?? other;
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

/** Human-readable bin labels, e.g. "(-inf, 0.5]", "(0.5, 2]", "(2, +inf)", or "web", "(other)". */
export function binLabels(bins: ReferenceBins): string[] {
  if (bins.kind === "categorical") return [...bins.categories, OTHER_BIN_LABEL];
  const e = bins.edges;
  if (e.length === 0) return ["(-inf, +inf)"];
  const labels = [`(-inf, ${e[0]}]`];
  for (let i = 1; i < e.length; i++) labels.push(`(${e[i - 1]}, ${e[i]}]`);
  labels.push(`(${e[e.length - 1]}, +inf)`);
  return labels;
}

/**
 * Short stable fingerprint of a binning (FNV-1a over its canonical JSON), stored in window
 * histograms so that histograms over different bins are never merged or compared.
 */
export function binsFingerprint(bins: ReferenceBins): string {
  const text =
    bins.kind === "numeric"
      ? `n:${bins.edges.map((e) => e.toString()).join(",")}`
      : `c:${JSON.stringify(bins.categories)}`;
  // Two independent 32-bit FNV-1a lanes (different offset bases) → 64 bits, 16 hex chars.
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}
