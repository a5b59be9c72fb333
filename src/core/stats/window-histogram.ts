/** Mergeable per-window histograms over frozen reference bins (counts add, so merge is associative). */

import { ValidationError } from "../errors.ts";
import {
  assertBins,
  binCountOf,
  binsFingerprint,
  categoryIndex,
  numericBinIndex,
  type ReferenceBins,
} from "./reference-bins.ts";

/**
 * Counts of one feature in one window (e.g. one minute) over the frozen bins. Plain JSON: store
 * it per window, merge minutes into hours with {@link mergeHistograms}.
 */
export interface WindowHistogram {
  kind: "numeric" | "categorical";
  /** {@link binsFingerprint} of the bins the counts are over; merging requires equal ones. */
  binsFingerprint: string;
  /** Count per bin, same order as the bins. */
  counts: number[];
  /** Observations whose value was missing (null/undefined); not in `counts`. */
  missing: number;
}

/** Bins prepared for per-value counting (edge array and category map built once). */
export interface Binner {
  readonly bins: ReferenceBins;
  readonly fingerprint: string;
  readonly binCount: number;
  /**
   * Bin of one value (number for numeric bins, string for categorical ones).
   * @throws ValidationError for NaN/±Infinity, or a value of the wrong type
   */
  binOf(value: number | string): number;
}

/**
 * Prepares bins for counting.
 * @throws ValidationError when the bins are malformed
 */
export function createBinner(bins: ReferenceBins): Binner {
  assertBins(bins);
  const fingerprint = binsFingerprint(bins);
  const binCount = binCountOf(bins);
  if (bins.kind === "numeric") {
    const edges = Float64Array.from(bins.edges);
    return {
      bins,
      fingerprint,
      binCount,
      binOf(value) {
        if (typeof value !== "number" || !Number.isFinite(value)) {
          throw new ValidationError(
            `value ${String(value)} cannot be binned: numeric features need a finite number (or null when missing)`,
            [{ field: "value", message: "must be a finite number" }],
          );
        }
        return numericBinIndex(edges, value);
      },
    };
  }
  const index = categoryIndex(bins);
  const other = bins.categories.length;
  return {
    bins,
    fingerprint,
    binCount,
    binOf(value) {
      if (typeof value !== "string") {
        throw new ValidationError(
          `value ${String(value)} cannot be binned: categorical features need a string (or null when missing)`,
          [{ field: "value", message: "must be a string" }],
        );
      }
      return index.get(value) ?? other;
    },
  };
}

/** An all-zero histogram over the binner's bins. */
export function emptyHistogram(binner: Binner): WindowHistogram {
  return {
    kind: binner.bins.kind,
    binsFingerprint: binner.fingerprint,
    counts: new Array<number>(binner.binCount).fill(0),
    missing: 0,
  };
}

function assertMatches(histogram: WindowHistogram, binner: Binner): void {
  if (histogram.binsFingerprint !== binner.fingerprint) {
    throw new ValidationError(
      `histogram was counted over bins ${histogram.binsFingerprint} but these bins are ${binner.fingerprint}: use the bins frozen with the model version`,
      [{ field: "histogram.binsFingerprint", message: "does not match the bins" }],
    );
  }
}

/**
 * Adds values to a histogram in place (the hot path of window ingestion); null/undefined count
 * as missing.
 * @throws ValidationError when the histogram is over other bins or a value cannot be binned
 */
export function addToHistogram(
  histogram: WindowHistogram,
  binner: Binner,
  values: ArrayLike<number | string | null | undefined>,
): void {
  assertMatches(histogram, binner);
  const counts = histogram.counts;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      histogram.missing++;
      continue;
    }
    const b = binner.binOf(v);
    counts[b] = (counts[b] as number) + 1;
  }
}

/** A new histogram of `values` over the binner's bins. */
export function histogramOf(
  binner: Binner,
  values: ArrayLike<number | string | null | undefined>,
): WindowHistogram {
  const h = emptyHistogram(binner);
  addToHistogram(h, binner, values);
  return h;
}

/** Non-missing observations in a histogram. */
export function histogramTotal(histogram: WindowHistogram): number {
  let s = 0;
  for (const c of histogram.counts) s += c;
  return s;
}

/**
 * Merges two window histograms over the same bins into a new one: counts and missing add, so
 * merging is associative and commutative (1-minute windows roll up to hours in any grouping).
 * @throws ValidationError when the histograms are over different bins
 */
export function mergeHistograms(a: WindowHistogram, b: WindowHistogram): WindowHistogram {
  if (a.binsFingerprint !== b.binsFingerprint || a.counts.length !== b.counts.length) {
    throw new ValidationError(
      `cannot merge histograms over different bins (${a.binsFingerprint} vs ${b.binsFingerprint})`,
      [{ field: "binsFingerprint", message: "histograms must share their bins" }],
    );
  }
  return {
    kind: a.kind,
    binsFingerprint: a.binsFingerprint,
    counts: a.counts.map((c, i) => c + (b.counts[i] as number)),
    missing: a.missing + b.missing,
  };
}

/**
 * Merges any number of histograms (at least one).
 * @throws ValidationError on an empty list or histograms over different bins
 */
export function mergeAllHistograms(histograms: readonly WindowHistogram[]): WindowHistogram {
  const [first, ...rest] = histograms;
  if (first === undefined) {
    throw new ValidationError("no histograms to merge: pass at least one window", [
      { field: "histograms", message: "must not be empty" },
    ]);
  }
  return rest.reduce(mergeHistograms, first);
}
