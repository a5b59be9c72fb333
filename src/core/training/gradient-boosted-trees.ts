/** Gradient-boosted regression trees on log loss (Newton leaves, histogram splits), binary output. */
import type { Matrix } from "./design-matrix.ts";
import { sigmoid } from "./design-matrix.ts";

export interface GbtOptions {
  trees?: number;
  maxDepth?: number;
  learningRate?: number;
  /** L2 penalty λ on leaf values (XGBoost's `lambda`). */
  l2?: number;
  /** Smallest hessian sum (≈ p(1−p)·rows) a child may have. */
  minChildWeight?: number;
  /** Most candidate thresholds per feature (quantiles of the training values). */
  maxBins?: number;
}

/**
 * A tree in preorder: node 0 is the root; an inner node sends x[feature] ≤ threshold to `left`.
 * Thresholds and leaf values are float32 numbers, exactly what the ONNX file stores.
 */
export interface TreeNode {
  feature: number;
  threshold: number;
  left: number;
  right: number;
  /** Leaf value (0 on inner nodes); `left === -1` marks a leaf. */
  value: number;
}

export interface GbtModel {
  kind: "gbt";
  /** Raw score before any tree, logit of the training base rate (float32). */
  baseScore: number;
  trees: TreeNode[][];
  inputs: number;
}

/**
 * Trains on raw input columns (categoricals as their index; trees need no one-hot). Inputs are
 * rounded to float32 first, since the ONNX runtime compares float32 inputs with float32
 * thresholds; every threshold is a float32 training value, so x ≤ t means the same thing here
 * and there. Fully deterministic: no sampling, ties broken by the first feature and bin.
 */
export function trainGbt(x: Matrix, y: ArrayLike<number>, options: GbtOptions = {}): GbtModel {
  const {
    trees: treeCount = 60,
    maxDepth = 3,
    learningRate = 0.1,
    l2 = 1,
    minChildWeight = 1,
    maxBins = 64,
  } = options;
  const n = x.rows;
  const f = x.cols;

  // Candidate thresholds per feature and each row's bin (bin b ⇔ edges[b−1] < x ≤ edges[b]).
  const edges: Float32Array[] = [];
  const bins: Uint8Array[] = [];
  for (let j = 0; j < f; j++) {
    const column = new Float32Array(n);
    for (let i = 0; i < n; i++) column[i] = x.data[i * f + j]!;
    const sorted = column.slice().sort();
    const candidates: number[] = [];
    for (let b = 1; b <= maxBins; b++) {
      const v = sorted[Math.min(n - 1, Math.ceil((b * n) / maxBins) - 1)]!;
      if (candidates.length === 0 || v > candidates[candidates.length - 1]!) candidates.push(v);
    }
    const e = Float32Array.from(candidates);
    const rowBins = new Uint8Array(n);
    for (let i = 0; i < n; i++) rowBins[i] = lowerBound(e, column[i]!);
    edges.push(e);
    bins.push(rowBins);
  }

  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i]!;
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / n));
  const baseScore = Math.fround(Math.log(rate / (1 - rate)));
  const score = new Float64Array(n).fill(baseScore);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const trees: TreeNode[][] = [];

  for (let t = 0; t < treeCount; t++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(score[i]!);
      g[i] = p - y[i]!;
      h[i] = p * (1 - p);
    }
    const nodes: TreeNode[] = [];
    const grow = (rows: Uint32Array, depth: number): number => {
      const id = nodes.length;
      nodes.push({ feature: 0, threshold: 0, left: -1, right: -1, value: 0 });
      let G = 0;
      let Hs = 0;
      // Indexed loops, not for…of: the iterator protocol costs several times the arithmetic.
      for (let r = 0; r < rows.length; r++) {
        const i = rows[r]!;
        G += g[i]!;
        Hs += h[i]!;
      }
      const split = depth < maxDepth ? bestSplit(rows, G, Hs) : undefined;
      if (!split) {
        const value = Math.fround((-G / (Hs + l2)) * learningRate);
        nodes[id]!.value = value;
        for (let r = 0; r < rows.length; r++) {
          const i = rows[r]!;
          score[i] = score[i]! + value;
        }
        return id;
      }
      const column = bins[split.feature]!;
      const leftRows = rows.filter((i) => column[i]! <= split.bin);
      const rightRows = rows.filter((i) => column[i]! > split.bin);
      const node = nodes[id]!;
      node.feature = split.feature;
      node.threshold = edges[split.feature]![split.bin]!;
      node.left = grow(leftRows, depth + 1);
      node.right = grow(rightRows, depth + 1);
      return id;
    };
    const bestSplit = (rows: Uint32Array, G: number, Hs: number) => {
      const parent = (G * G) / (Hs + l2);
      let best: { feature: number; bin: number; gain: number } | undefined;
      for (let j = 0; j < f; j++) {
        const k = edges[j]!.length;
        const hg = new Float64Array(k);
        const hh = new Float64Array(k);
        const column = bins[j]!;
        for (let r = 0; r < rows.length; r++) {
          const i = rows[r]!;
          const b = column[i]!;
          hg[b] = hg[b]! + g[i]!;
          hh[b] = hh[b]! + h[i]!;
        }
        let GL = 0;
        let HL = 0;
        // Splitting after the last bin sends everything left: not a split.
        for (let b = 0; b < k - 1; b++) {
          GL += hg[b]!;
          HL += hh[b]!;
          const HR = Hs - HL;
          if (HL < minChildWeight || HR < minChildWeight) continue;
          const GR = G - GL;
          const gain = (GL * GL) / (HL + l2) + (GR * GR) / (HR + l2) - parent;
          if (gain > 1e-12 && (!best || gain > best.gain)) best = { feature: j, bin: b, gain };
        }
      }
      return best;
    };
    grow(
      Uint32Array.from({ length: n }, (_, i) => i),
      0,
    );
    trees.push(nodes);
  }
  return { kind: "gbt", baseScore, trees, inputs: f };
}

/** First index b with x ≤ edges[b] (edges ascending); edges.length − 1 past the last edge. */
function lowerBound(edges: Float32Array, x: number): number {
  let lo = 0;
  let hi = edges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The raw score (logit): base + Σ leaf values, inputs compared as float32 like the runtime. */
export function gbtLogit(model: GbtModel, x: ArrayLike<number>): number {
  let sum = model.baseScore;
  for (const tree of model.trees) {
    let node = tree[0]!;
    while (node.left !== -1) {
      node = Math.fround(x[node.feature]!) <= node.threshold ? tree[node.left]! : tree[node.right]!;
    }
    sum += node.value;
  }
  return sum;
}

export function predictGbt(model: GbtModel, x: ArrayLike<number>): number {
  return sigmoid(gbtLogit(model, x));
}
