/** Linear and tree-ensemble models read out of ONNX graphs, evaluated in plain arithmetic. */

/** How the model's margin becomes its score: as is, or through the logistic function. */
export type ScoreLink = "identity" | "logistic";

/**
 * score = link(bias + Σ_c g_c(x_c)) with g_c(x) = weights[c]·x + tables[c].get(x) (0 when x is not
 * a key). Logistic regressions are the plain case; a one-hot block inside the graph becomes the
 * table of the column it expands (category index → weight), so each input column, that is each
 * feature the caller sent, is one additive term.
 */
export interface AdditiveModel {
  kind: "additive";
  link: ScoreLink;
  columns: number;
  bias: number;
  weights: Float64Array;
  tables: (ReadonlyMap<number, number> | undefined)[];
}

/** Node tests of ai.onnx.ml tree ensembles, in the order of `TREE_MODES`. */
export const TREE_MODES = [
  "BRANCH_LEQ",
  "BRANCH_LT",
  "BRANCH_GTE",
  "BRANCH_GT",
  "BRANCH_EQ",
  "BRANCH_NEQ",
  "LEAF",
] as const;
export const LEAF = 6;

/**
 * score = link(base + Σ_trees value[leaf reached]). Nodes of all trees share flat arrays; a
 * branch goes to `yes[n]` when its test holds for x[feature[n]] against threshold[n].
 */
export interface TreeEnsembleModel {
  kind: "trees";
  link: ScoreLink;
  columns: number;
  base: number;
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  mode: Uint8Array;
  yes: Int32Array;
  no: Int32Array;
  value: Float64Array;
  /** Longest root-to-leaf path, in branches. */
  depth: number;
}

export type DirectModel = AdditiveModel | TreeEnsembleModel;

/** Whether node `n`'s test sends `x` (a float32 value) to its `yes` child. */
export function treeTestHolds(mode: number, x: number, threshold: number): boolean {
  switch (mode) {
    case 0:
      return x <= threshold;
    case 1:
      return x < threshold;
    case 2:
      return x >= threshold;
    case 3:
      return x > threshold;
    case 4:
      return x === threshold;
    default:
      return x !== threshold;
  }
}

/** The leaf of the tree at `root` that row `x` (offset `at`) reaches. */
export function treeLeaf(m: TreeEnsembleModel, root: number, x: ArrayLike<number>, at: number) {
  let n = root;
  while (m.mode[n] !== LEAF) {
    n = treeTestHolds(m.mode[n]!, x[at + m.feature[n]!]!, m.threshold[n]!) ? m.yes[n]! : m.no[n]!;
  }
  return n;
}

/** g_c(x) of an additive model: the contribution of column c's value x to the margin. */
export function additiveTerm(m: AdditiveModel, c: number, x: number): number {
  const table = m.tables[c];
  return m.weights[c]! * x + (table?.get(x) ?? 0);
}

/** The margin (the score before the link) of row `at / columns` of row-major `values`. */
export function directMargin(m: DirectModel, values: ArrayLike<number>, at: number): number {
  if (m.kind === "additive") {
    let z = m.bias;
    for (let c = 0; c < m.columns; c++) {
      const x = values[at + c]!;
      z += m.weights[c]! * x;
      const table = m.tables[c];
      if (table !== undefined) z += table.get(x) ?? 0;
    }
    return z;
  }
  let z = m.base;
  for (let t = 0; t < m.roots.length; t++) z += m.value[treeLeaf(m, m.roots[t]!, values, at)]!;
  return z;
}

export function applyLink(link: ScoreLink, margin: number): number {
  return link === "logistic" ? sigmoid(margin) : margin;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** The score of each row of row-major `values` (`rows` × model.columns). */
export function scoreDirect(m: DirectModel, values: ArrayLike<number>, rows: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = applyLink(m.link, directMargin(m, values, r * m.columns));
  return out;
}
