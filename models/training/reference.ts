/** The drift reference frozen into a manifest: bins + proportions and a KS sample per feature and score. */
import { quantileSorted } from "simple-statistics";
import type {
  CategoricalReference,
  ManifestFeature,
  ManifestReference,
  NumericReference,
} from "../../src/core/model-manifest";
import { createRandom, shuffledIndices } from "../synthetic/prng";

export interface ReferenceOptions {
  /** Seed of the reference sample's draw. */
  seed: number;
  /** Quantile bins per numeric feature (fewer when values repeat). */
  bins?: number;
  /** Values kept per numeric feature for two-sample KS. */
  sampleSize?: number;
}

/** Proportions and sample values are rounded to this many decimals / significant digits. */
const PROPORTION_DECIMALS = 6;
const SAMPLE_SIGNIFICANT_DIGITS = 7;

// REPLACE with the statistics core's reference binning (src/core/stats) once it is published,
// so that the bins frozen here are the ones the stream processor's PSI uses. Until then: inner
// cut points at the quantiles i/bins (numpy's default "linear" method via simple-statistics),
// duplicates and any cut at or above the maximum dropped, bins (−∞, e0], (e0, e1], …, (e_last, ∞).
function fitQuantileEdges(sorted: readonly number[], bins: number): number[] {
  const max = sorted[sorted.length - 1]!;
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const q = quantileSorted(sorted as number[], i / bins);
    if (q < max && (edges.length === 0 || q > edges[edges.length - 1]!)) edges.push(q);
  }
  return edges;
}

/** Share of `sorted` values per bin (−∞, e0], (e0, e1], …, (e_last, ∞). */
function binProportions(sorted: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let bin = 0;
  for (const v of sorted) {
    while (bin < edges.length && v > edges[bin]!) bin++;
    counts[bin]! += 1;
  }
  return roundProportions(counts, sorted.length);
}

/**
 * Counts → proportions rounded to PROPORTION_DECIMALS, with the rounding residue put on the
 * largest share so the written values still sum to 1 within the manifest schema's tolerance.
 */
function roundProportions(counts: readonly number[], total: number): number[] {
  const f = 10 ** PROPORTION_DECIMALS;
  const out = counts.map((c) => Math.round((c / total) * f) / f);
  const residue = 1 - out.reduce((a, b) => a + b, 0);
  let largest = 0;
  out.forEach((p, i) => {
    if (p > out[largest]!) largest = i;
  });
  out[largest] = Math.round((out[largest]! + residue) * f) / f;
  return out;
}

const roundSignificant = (x: number) => Number(x.toPrecision(SAMPLE_SIGNIFICANT_DIGITS));

export function numericReference(
  values: readonly number[],
  sampleOrder: Uint32Array,
  options: Required<Omit<ReferenceOptions, "seed">>,
): NumericReference {
  const sorted = Float64Array.from(values).sort();
  const sortedList = Array.from(sorted);
  const edges = fitQuantileEdges(sortedList, options.bins);
  const sampleCount = Math.min(options.sampleSize, values.length);
  const sample: number[] = new Array(sampleCount);
  for (let i = 0; i < sampleCount; i++) sample[i] = roundSignificant(values[sampleOrder[i]!]!);
  return {
    type: "number",
    edges,
    proportions: binProportions(sortedList, edges),
    sample,
    count: values.length,
  };
}

export function categoricalReference(
  values: readonly string[],
  categories: readonly string[],
): CategoricalReference {
  const counts = new Array<number>(categories.length + 1).fill(0);
  for (const v of values) {
    const i = categories.indexOf(v);
    counts[i === -1 ? categories.length : i]! += 1;
  }
  return {
    type: "categorical",
    categories: [...categories],
    proportions: roundProportions(counts, values.length),
    count: values.length,
  };
}

/**
 * The reference of `rows` (feature values keyed by name, as sent to the scorer) and of the
 * model's `scores` on them. The KS sample is the same random subset of rows for every feature.
 */
export function buildReference(
  features: readonly ManifestFeature[],
  rows: readonly Readonly<Record<string, number | string>>[],
  scores: readonly number[],
  options: ReferenceOptions,
): ManifestReference {
  const settings = { bins: options.bins ?? 10, sampleSize: options.sampleSize ?? 1000 };
  const order = shuffledIndices(rows.length, createRandom(options.seed));
  const out: ManifestReference["features"] = {};
  for (const feature of features) {
    if (feature.type === "number") {
      out[feature.name] = numericReference(
        rows.map((r) => r[feature.name] as number),
        order,
        settings,
      );
    } else {
      out[feature.name] = categoricalReference(
        rows.map((r) => r[feature.name] as string),
        feature.categories,
      );
    }
  }
  return { rows: rows.length, features: out, score: numericReference(scores, order, settings) };
}
