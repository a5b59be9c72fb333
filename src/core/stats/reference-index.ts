/** A numeric reference prepared once for fast drift scans: bin counts and the exact KS statistic in one pass. */

import { ValidationError } from "../errors.ts";
import type { KsExtremes } from "./ks-two-sample.ts";

// Why this exists: sorting every window to compute D costs O(n log n) per feature (≈0.8 ms for
// 10k values in V8), which alone would exceed the 10 ms budget for 30 features. Instead the
// reference sample and the bin edges are merged once into one sorted array of distinct
// "points", and each window value is located among them through a bucket grid (O(1) expected).
// The ECDF difference F_ref − F_win only changes at data points, so evaluating it from the
// per-point counts gives exactly scipy's D — the same integer counts and the same divisions —
// ties included (ECDFs evaluated after all ties, scipy's searchsorted(side="right")).
//
// Two layouts, chosen by the number of points L:
// - direct (L ≤ 4096, e.g. discrete or rounded features): every value is located to its point;
//   one sweep over the points gives bin counts and D. Tables stay small enough for the cache.
// - blocked (larger L, continuous features): points are grouped in blocks of ≤ 16; values are
//   only located to their block (tables of a few kB instead of ~250 kB, which matters when 30
//   features are scanned in turn). D is evaluated exactly at block boundaries; inside a block
//   it can exceed them by at most the block's own reference and window mass, so only blocks
//   whose bound beats the best boundary value are refined point by point.
// Either way a block or point never spans a bin edge, so bin counts come from the same counts.

/** Largest number of points scanned in the direct layout. */
const DIRECT_MAX_POINTS = 4096;
/** Points per block in the blocked layout. */
const BLOCK_POINTS = 16;

/** A bucket grid over ascending boundaries: the answer for a value in bucket g lies in [start[g], start[g+1]]. */
interface BucketGrid {
  lo: number;
  scale: number;
  buckets: number;
  start: Int32Array;
}

/** The prepared reference; build it with {@link buildReferenceIndex}, treat it as opaque. */
export interface ReferenceIndex {
  /** Distinct ascending values of (reference sample ∪ bin edges); L = points.length. */
  points: Float64Array;
  /** Number of reference-sample values ≤ points[s] (a bin edge not in the sample adds none). */
  refCumulative: Int32Array;
  /** Reference sample size n1 (0 when the reference has no sample: KS is then unavailable). */
  sampleSize: number;
  /** Number of bins (edges + 1). */
  binCount: number;
  /**
   * Groups of consecutive points located as one: block j holds points blockFirst[j] …
   * blockFirst[j+1] − 1, i.e. the values v with blockUpper[j−1] < v ≤ blockUpper[j]; block K
   * (K = blockFirst.length − 1) holds the values above every point. In the direct layout every
   * block is a single point.
   */
  blockFirst: Int32Array;
  /** Largest point of each block, then +∞ for block K (length K + 1). */
  blockUpper: Float64Array;
  /** Bin of every value in block j (length K + 1): no block spans an edge. */
  binOfBlock: Int32Array;
  /** True when blocks hold one point each (direct layout). */
  direct: boolean;
  grid: BucketGrid;
}

/**
 * Prepares a numeric reference: frozen bin edges plus (optionally) the reference sample for KS.
 *
 * @param edges strictly increasing interior bin edges
 * @param sample reference sample for KS (any order, finite values); empty when there is none
 * @throws ValidationError when the sample holds a non-finite value
 */
export function buildReferenceIndex(
  edges: ArrayLike<number>,
  sample: ArrayLike<number>,
): ReferenceIndex {
  const sorted = Float64Array.from(sample);
  sorted.sort();
  for (let i = 0; i < sorted.length; i++) {
    if (!Number.isFinite(sorted[i] as number)) {
      throw new ValidationError("the reference sample holds a non-finite value", [
        { field: "sample", message: "every value must be a finite number" },
      ]);
    }
  }
  // merge the sorted sample with the edges into distinct points
  const merged = new Float64Array(sorted.length + edges.length);
  const refAt = new Int32Array(sorted.length + edges.length);
  const isEdge = new Uint8Array(sorted.length + edges.length);
  let L = 0;
  let i = 0;
  let j = 0;
  while (i < sorted.length || j < edges.length) {
    const a = i < sorted.length ? (sorted[i] as number) : Number.POSITIVE_INFINITY;
    const e = j < edges.length ? (edges[j] as number) : Number.POSITIVE_INFINITY;
    const v = Math.min(a, e);
    let count = 0;
    while (i < sorted.length && sorted[i] === v) {
      i++;
      count++;
    }
    while (j < edges.length && edges[j] === v) {
      j++;
      isEdge[L] = 1;
    }
    merged[L] = v + 0; // −0 → 0
    refAt[L] = count;
    L++;
  }
  const points = merged.slice(0, L);
  const refCumulative = new Int32Array(L);
  let cum = 0;
  for (let s = 0; s < L; s++) {
    cum += refAt[s] as number;
    refCumulative[s] = cum;
  }

  // blocks of one point (direct) or ≤ BLOCK_POINTS points, each ending at the latest on an edge
  const direct = L <= DIRECT_MAX_POINTS;
  const perBlock = direct ? 1 : BLOCK_POINTS;
  const firsts: number[] = [];
  for (let s = 0; s < L; s++) {
    const start = firsts.length === 0 ? -1 : (firsts[firsts.length - 1] as number);
    if (start < 0 || s - start >= perBlock || isEdge[s - 1] === 1) firsts.push(s);
  }
  const K = firsts.length;
  const blockFirst = new Int32Array(K + 1);
  blockFirst.set(firsts);
  blockFirst[K] = L;
  const blockUpper = new Float64Array(K + 1);
  const binOfBlock = new Int32Array(K + 1);
  let edgesBelow = 0;
  for (let b = 0; b < K; b++) {
    blockUpper[b] = points[(blockFirst[b + 1] as number) - 1] as number;
    const first = points[blockFirst[b] as number] as number;
    while (edgesBelow < edges.length && (edges[edgesBelow] as number) < first) edgesBelow++;
    binOfBlock[b] = edgesBelow;
  }
  blockUpper[K] = Number.POSITIVE_INFINITY;
  binOfBlock[K] = edges.length;
  return {
    points,
    refCumulative,
    sampleSize: sorted.length,
    binCount: edges.length + 1,
    blockFirst,
    blockUpper,
    binOfBlock,
    direct,
    grid: buildGrid(blockUpper, K),
  };
}

/** clamp(floor((v − lo)·scale), 0, last), written with min/max so that it compiles without branches. */
function bucketOf(v: number, lo: number, scale: number, last: number): number {
  return Math.max(0, Math.min(last, Math.floor((v - lo) * scale)));
}

/**
 * Bucket grid over the first `count` ascending boundaries, about two buckets per boundary, over
 * their central 99% (a few extreme outliers would otherwise squeeze all others into one bucket;
 * values beyond land in the clamped end buckets, where the binary search still finds them).
 */
function buildGrid(boundaries: Float64Array, count: number): BucketGrid {
  const wanted =
    count < 2 ? 1 : Math.min(1 << 16, Math.max(16, 2 ** Math.ceil(Math.log2(2 * count))));
  const lo = count > 0 ? (boundaries[Math.floor((count - 1) * 0.005)] as number) : 0;
  const hi = count > 0 ? (boundaries[Math.ceil((count - 1) * 0.995)] as number) : 0;
  const span = hi - lo;
  const scale = span > 0 && Number.isFinite(wanted / span) ? wanted / span : 0;
  const buckets = scale > 0 ? wanted : 1;
  // start[g] = first boundary in a bucket ≥ g, with the same bucketOf as lookups, so the first
  // boundary ≥ v (v in bucket g) lies in [start[g], start[g + 1]].
  const start = new Int32Array(buckets + 1);
  let b = 0;
  for (let g = 0; g < buckets; g++) {
    while (b < count && bucketOf(boundaries[b] as number, lo, scale, buckets - 1) < g) b++;
    start[g] = b;
  }
  start[buckets] = count;
  return { lo, scale, buckets, start };
}

/** What one scan of a window against the reference yields. */
export interface ReferenceScan {
  /** Window counts per reference bin. */
  binCounts: number[];
  /** Non-missing window values scanned (n2). */
  sampleSize: number;
  /** Missing values (null/undefined) skipped. */
  missing: number;
  /** KS one-sided extremes of F_ref − F_window; undefined when the reference has no sample. */
  ks: KsExtremes | undefined;
}

/**
 * Scans window values against the prepared reference: bin counts for PSI and, when the reference
 * has a sample, the exact KS extremes (D is the larger of the two). null/undefined count as
 * missing.
 *
 * @throws ValidationError when a value is NaN, ±Infinity or not a number
 */
export function scanAgainstReference(
  index: ReferenceIndex,
  values: ArrayLike<number | null | undefined>,
): ReferenceScan {
  const K = index.blockFirst.length - 1;
  const n = values.length;
  const { blockUpper, direct } = index;
  const { lo: gridLo, scale: gridScale, start: gridStart } = index.grid;
  const lastBucket = index.grid.buckets - 1;
  // blockCounts[b]: values in block b. Direct layout only: equalCounts[b] of them equal its point.
  const blockCounts = new Int32Array(K + 1);
  const equalCounts = direct ? new Int32Array(K + 1) : blockCounts;
  // blocked layout only: the block of each value (−1 when missing), for refinement
  const blockOf = direct ? new Int32Array(0) : new Int32Array(n);
  let missing = 0;
  // Hot loop: runs once per window value and feature.
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      missing++;
      if (!direct) blockOf[i] = -1;
      continue;
    }
    // v - v is 0 exactly for finite numbers (NaN for NaN and ±Infinity)
    if (typeof v !== "number" || v - v !== 0) {
      throw new ValidationError(
        `values[${i}] is ${String(v)}: every value must be a finite number (null marks a missing value)`,
        [{ field: `values.${i}`, message: "must be a finite number or null" }],
      );
    }
    const g = Math.max(0, Math.min(lastBucket, Math.floor((v - gridLo) * gridScale)));
    let lo = gridStart[g] as number;
    let hi = gridStart[g + 1] as number;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if ((blockUpper[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    // the answer is lo or lo + 1 (blockUpper[K] = +∞ keeps the read in bounds)
    if ((blockUpper[lo] as number) < v) lo++;
    blockCounts[lo] = (blockCounts[lo] as number) + 1;
    if (direct) {
      if (blockUpper[lo] === v) equalCounts[lo] = (equalCounts[lo] as number) + 1;
    } else {
      blockOf[i] = lo;
    }
  }
  const n2 = n - missing;
  const binCounts = new Array<number>(index.binCount).fill(0);
  for (let b = 0; b <= K; b++) {
    const c = blockCounts[b] as number;
    if (c > 0) {
      const bin = index.binOfBlock[b] as number;
      binCounts[bin] = (binCounts[bin] as number) + c;
    }
  }
  const n1 = index.sampleSize;
  let ks: KsExtremes | undefined;
  if (n1 > 0 && n2 > 0) {
    ks = direct
      ? directExtremes(index, blockCounts, equalCounts, n2)
      : blockedExtremes(index, values, blockCounts, blockOf, n2);
  }
  return { binCounts, sampleSize: n2, missing, ks };
}

/**
 * Direct layout: sweep the points. Within the open gap below point s the reference ECDF is
 * constant and the window ECDF only rises, so F_ref − F_win is extreme at the gap's last window
 * value (its lowest) or at the previous point (its highest, already evaluated). Before every
 * point both ECDFs are 0; above every point F_ref = 1, so nothing new happens there.
 */
function directExtremes(
  index: ReferenceIndex,
  blockCounts: Int32Array,
  equalCounts: Int32Array,
  n2: number,
): KsExtremes {
  const L = index.points.length;
  const n1 = index.sampleSize;
  const refCumulative = index.refCumulative;
  let w = 0;
  let k1 = 0;
  let maxDiff = 0;
  let minDiff = 0;
  for (let s = 0; s < L; s++) {
    const e = equalCounts[s] as number;
    const g = (blockCounts[s] as number) - e;
    if (g > 0) {
      w += g;
      const diff = k1 / n1 - w / n2;
      if (-diff > minDiff) minDiff = -diff;
    }
    w += e;
    k1 = refCumulative[s] as number;
    // a point holding only a bin edge repeats the previous value: harmless to evaluate
    const diff = k1 / n1 - w / n2;
    if (diff > maxDiff) maxDiff = diff;
    if (-diff > minDiff) minDiff = -diff;
  }
  return { maxDiff, minDiff };
}

/** Blocked layout: exact values at block boundaries, then refine the blocks that may beat them. */
function blockedExtremes(
  index: ReferenceIndex,
  values: ArrayLike<number | null | undefined>,
  blockCounts: Int32Array,
  blockOf: Int32Array,
  n2: number,
): KsExtremes {
  const K = index.blockFirst.length - 1;
  const n1 = index.sampleSize;
  const { blockFirst, refCumulative, points } = index;
  let maxDiff = 0;
  let minDiff = 0;
  let k2 = 0;
  for (let b = 0; b < K; b++) {
    k2 += blockCounts[b] as number;
    const diff = (refCumulative[(blockFirst[b + 1] as number) - 1] as number) / n1 - k2 / n2;
    if (diff > maxDiff) maxDiff = diff;
    if (-diff > minDiff) minDiff = -diff;
  }
  // Inside block b, F_ref ≤ its end value and F_win ≥ its start value, so
  // F_ref − F_win ≤ k1(end)/n1 − k2(start)/n2, and symmetrically. A block without window values
  // cannot beat its boundaries: F_win is flat there.
  const start = new Int32Array(K + 1).fill(-1); // offset of a candidate block's values
  let total = 0;
  let k1p = 0;
  let k2p = 0;
  for (let b = 0; b < K; b++) {
    const c = blockCounts[b] as number;
    const k1 = refCumulative[(blockFirst[b + 1] as number) - 1] as number;
    if (c > 0 && (k1 / n1 - k2p / n2 > maxDiff || (k2p + c) / n2 - k1p / n1 > minDiff)) {
      start[b] = total;
      total += c;
    }
    k1p = k1;
    k2p += c;
  }
  if (total === 0) return { maxDiff, minDiff };
  // Gather the candidate blocks' values, grouped by block.
  const fill = start.slice();
  const gathered = new Float64Array(total);
  for (let i = 0; i < blockOf.length; i++) {
    const b = blockOf[i] as number;
    if (b < 0) continue;
    const at = fill[b] as number;
    if (at >= 0) {
      gathered[at] = values[i] as number;
      fill[b] = at + 1;
    }
  }
  // Refine each candidate block like the direct layout, over its ≤ 16 points.
  const equalAt = new Int32Array(BLOCK_POINTS);
  const gapAt = new Int32Array(BLOCK_POINTS);
  k1p = 0;
  k2p = 0;
  for (let b = 0; b < K; b++) {
    const c = blockCounts[b] as number;
    const first = blockFirst[b] as number;
    const end = blockFirst[b + 1] as number;
    const at = start[b] as number;
    if (at >= 0) {
      const m = end - first;
      equalAt.fill(0, 0, m);
      gapAt.fill(0, 0, m);
      for (let a = at; a < at + c; a++) {
        const v = gathered[a] as number;
        // every value of block b is ≤ its last point, so the search lands inside the block
        let lo = first;
        let hi = end - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((points[mid] as number) < v) lo = mid + 1;
          else hi = mid;
        }
        if (points[lo] === v) equalAt[lo - first] = (equalAt[lo - first] as number) + 1;
        else gapAt[lo - first] = (gapAt[lo - first] as number) + 1;
      }
      let k1 = k1p;
      let w = k2p;
      for (let t = 0; t < m; t++) {
        const g = gapAt[t] as number;
        if (g > 0) {
          w += g;
          const diff = k1 / n1 - w / n2;
          if (-diff > minDiff) minDiff = -diff;
        }
        w += equalAt[t] as number;
        k1 = refCumulative[first + t] as number;
        const diff = k1 / n1 - w / n2;
        if (diff > maxDiff) maxDiff = diff;
        if (-diff > minDiff) minDiff = -diff;
      }
    }
    k1p = refCumulative[end - 1] as number;
    k2p += c;
  }
  return { maxDiff, minDiff };
}
