/** Exact interventional TreeSHAP for tree ensembles, in the ensemble's margin space. */
import {
  directMargin,
  LEAF,
  type TreeEnsembleModel,
  treeTestHolds,
} from "../scoring/direct-model.ts";
import type { BackgroundMatrix } from "./background.ts";
import type { ColumnExplanation } from "./explanation.ts";

// Interventional TreeSHAP (Lundberg et al., "From local explanations to global understanding
// with explainable AI for trees", Nature Machine Intelligence 2020), as shap's TreeExplainer
// computes it with feature_perturbation="interventional". For one background row z, the value of
// a coalition S is the tree's output on the hybrid row taking x's values on S and z's elsewhere.
// Walking a tree with x and z together, a node where both go the same way involves no feature;
// where they part, the path follows x (the split's feature joins the set X that must be in S) or
// z (it joins Z that must stay out). A leaf reached with sets X, Z is hit by exactly the
// coalitions S ⊇ X, S ∩ Z = ∅, and the Shapley weights of those sum in closed form:
//   each feature in X gains v·|X−1|!·|Z|!/(|X|+|Z|)!, each in Z loses v·|X|!·|Z−1|!/(|X|+|Z|)!.
// A feature met again lower on the path keeps the side it joined. Averaging over background rows
// gives the values; base = mean margin of the background, so base + Σ φ = margin(x) exactly.

//
// Faster, same values: a leaf's share depends on x only through which of its path's features x
// satisfies (bit mask a over the ≤ depth distinct features on the path: every split on that
// feature sends x toward the leaf), and on a background row only through its own mask b. The leaf
// is reached iff a | b covers every path feature; then X = a ∧ ¬b and Z = ¬a ∧ b. Background
// rows are counted per mask b once, and for every possible a the leaf's share to each path
// feature is tabulated at load (2^k · k numbers per leaf with k path features). Explaining a row
// is then one mask per leaf and k additions. When the tables would pass TABLE_BUDGET numbers
// (deep trees), the walk above is used instead.

export interface TreeExplainer {
  explain(values: ArrayLike<number>, at: number): ColumnExplanation;
  /** Work per explained row, in node tests or table additions (the bound limits check). */
  costPerRow: number;
}

/** Numbers all leaf tables of one model may hold (2 MiB of float64, per loaded version). */
const TABLE_BUDGET = 1 << 18;

export interface TreeExplainerOptions {
  /** "table" (default when within TABLE_BUDGET) or "walk"; both give the same values. */
  strategy?: "table" | "walk";
}

interface LeafPath {
  /** Distinct features on the path, one bit each in masks. */
  features: Int32Array;
  /** Per branch on the path: its node, the bit of its feature, and whether the path takes `yes`. */
  nodes: Int32Array;
  bits: Int32Array;
  wantYes: Uint8Array;
}

function leafPaths(model: TreeEnsembleModel): { leaf: number; path: LeafPath }[] {
  const out: { leaf: number; path: LeafPath }[] = [];
  const stack: { node: number; nodes: number[]; yes: boolean[] }[] = [];
  for (const root of model.roots) stack.push({ node: root, nodes: [], yes: [] });
  while (stack.length > 0) {
    const { node, nodes, yes } = stack.pop()!;
    if (model.mode[node] === LEAF) {
      const features: number[] = [];
      const bits = nodes.map((n) => {
        const f = model.feature[n]!;
        let bit = features.indexOf(f);
        if (bit < 0) bit = features.push(f) - 1;
        return bit;
      });
      out.push({
        leaf: node,
        path: {
          features: Int32Array.from(features),
          nodes: Int32Array.from(nodes),
          bits: Int32Array.from(bits),
          wantYes: Uint8Array.from(yes, (y) => (y ? 1 : 0)),
        },
      });
      continue;
    }
    stack.push({ node: model.yes[node]!, nodes: [...nodes, node], yes: [...yes, true] });
    stack.push({ node: model.no[node]!, nodes: [...nodes, node], yes: [...yes, false] });
  }
  return out;
}

/** The mask of path features whose every split on the path sends row `at` toward the leaf. */
function pathMask(
  model: TreeEnsembleModel,
  path: LeafPath,
  values: ArrayLike<number>,
  at: number,
): number {
  let mask = (1 << path.features.length) - 1;
  for (let i = 0; i < path.nodes.length; i++) {
    const n = path.nodes[i]!;
    const holds = treeTestHolds(
      model.mode[n]!,
      values[at + model.feature[n]!]!,
      model.threshold[n]!,
    );
    if (holds !== (path.wantYes[i] === 1)) mask &= ~(1 << path.bits[i]!);
  }
  return mask;
}

function popcount(m: number): number {
  let n = 0;
  for (let v = m; v !== 0; v &= v - 1) n++;
  return n;
}

function createTableExplainer(
  model: TreeEnsembleModel,
  background: BackgroundMatrix,
  paths: { leaf: number; path: LeafPath }[],
  base: number,
  space: ColumnExplanation["space"],
): TreeExplainer {
  const columns = model.columns;
  const weights = shapleyWeights(model.depth + 1);
  const tables = paths.map(({ leaf, path }) => {
    const k = path.features.length;
    const size = 1 << k;
    const full = size - 1;
    const counts = new Float64Array(size);
    for (let r = 0; r < background.rows; r++) {
      const b = pathMask(model, path, background.values, r * columns);
      counts[b] = counts[b]! + 1 / background.rows;
    }
    const v = model.value[leaf]!;
    const table = new Float64Array(size * k);
    for (let a = 0; a < size; a++) {
      for (let b = 0; b < size; b++) {
        const share = counts[b]!;
        if (share === 0 || (a | b) !== full) continue;
        const x = a & ~b;
        const z = ~a & b & full;
        const nx = popcount(x);
        const nz = popcount(z);
        const gain = nx > 0 ? share * v * weights[nx - 1]![nz]! : 0;
        const loss = nz > 0 ? share * v * weights[nx]![nz - 1]! : 0;
        for (let j = 0; j < k; j++) {
          const bit = 1 << j;
          if (x & bit) table[a * k + j] = table[a * k + j]! + gain;
          else if (z & bit) table[a * k + j] = table[a * k + j]! - loss;
        }
      }
    }
    return { path, table, k };
  });
  // Each branch's test is run once per row; the leaves' masks read the results.
  const branches = Int32Array.from(
    Array.from(model.mode.keys()).filter((n) => model.mode[n] !== LEAF),
  );
  const holds = new Uint8Array(model.mode.length);
  const costPerRow = paths.reduce(
    (sum, { path }) => sum + path.nodes.length + path.features.length,
    branches.length,
  );
  return {
    costPerRow,
    explain(values, at) {
      for (let i = 0; i < branches.length; i++) {
        const n = branches[i]!;
        const test = treeTestHolds(
          model.mode[n]!,
          values[at + model.feature[n]!]!,
          model.threshold[n]!,
        );
        holds[n] = test ? 1 : 0;
      }
      const phi = new Float64Array(columns);
      for (const { path, table, k } of tables) {
        if (k === 0) continue;
        let mask = (1 << k) - 1;
        for (let i = 0; i < path.nodes.length; i++) {
          if (holds[path.nodes[i]!] !== path.wantYes[i]) mask &= ~(1 << path.bits[i]!);
        }
        const offset = mask * k;
        for (let j = 0; j < k; j++) {
          const f = path.features[j]!;
          phi[f] = phi[f]! + table[offset + j]!;
        }
      }
      return { base, contributions: phi, space, method: "tree" };
    },
  };
}

/** w[a][b] = a!·b!/(a+b+1)!, for a, b ≤ n. */
function shapleyWeights(n: number): Float64Array[] {
  const factorial = [1];
  for (let i = 1; i <= 2 * n + 1; i++) factorial.push(factorial[i - 1]! * i);
  return Array.from({ length: n + 1 }, (_, a) =>
    Float64Array.from(
      { length: n + 1 },
      (_, b) => (factorial[a]! * factorial[b]!) / factorial[a + b + 1]!,
    ),
  );
}

export function createTreeExplainer(
  model: TreeEnsembleModel,
  background: BackgroundMatrix,
  options: TreeExplainerOptions = {},
): TreeExplainer {
  const columns = model.columns;
  const bg = background.values;
  let base = 0;
  for (let r = 0; r < background.rows; r++) base += directMargin(model, bg, r * columns);
  base /= background.rows;
  const space = model.link === "logistic" ? "logit" : "probability";
  if (options.strategy !== "walk") {
    const paths = leafPaths(model);
    const size = paths.reduce(
      (sum, { path }) => sum + 2 ** path.features.length * path.features.length,
      0,
    );
    if (size <= TABLE_BUDGET || options.strategy === "table") {
      return createTableExplainer(model, background, paths, base, space);
    }
  }
  const weights = shapleyWeights(model.depth + 1);
  const { feature, threshold, mode, yes, no, value } = model;
  // Work arrays, reused: which side each feature has joined (1 = X, 2 = Z) and the sets as stacks.
  const side = new Uint8Array(columns);
  const xSet = new Int32Array(model.depth + 1);
  const zSet = new Int32Array(model.depth + 1);

  return {
    // Every (tree, background row) walk visits each node of the tree at most once.
    costPerRow: background.rows * model.mode.length,
    explain(x, at) {
      const phi = new Float64Array(columns);
      let zAt = 0;
      const walk = (node: number, nx: number, nz: number): void => {
        if (mode[node] === LEAF) {
          const v = value[node]!;
          if (nx > 0) {
            const gain = v * weights[nx - 1]![nz]!;
            for (let i = 0; i < nx; i++) phi[xSet[i]!] = phi[xSet[i]!]! + gain;
          }
          if (nz > 0) {
            const loss = v * weights[nx]![nz - 1]!;
            for (let i = 0; i < nz; i++) phi[zSet[i]!] = phi[zSet[i]!]! - loss;
          }
          return;
        }
        const f = feature[node]!;
        const m = mode[node]!;
        const t = threshold[node]!;
        const s = side[f]!;
        const xNext = treeTestHolds(m, x[at + f]!, t) ? yes[node]! : no[node]!;
        if (s === 1) {
          walk(xNext, nx, nz);
          return;
        }
        const zNext = treeTestHolds(m, bg[zAt + f]!, t) ? yes[node]! : no[node]!;
        if (s === 2 || xNext === zNext) {
          walk(zNext, nx, nz);
          return;
        }
        side[f] = 1;
        xSet[nx] = f;
        walk(xNext, nx + 1, nz);
        side[f] = 2;
        zSet[nz] = f;
        walk(zNext, nx, nz + 1);
        side[f] = 0;
      };
      for (let r = 0; r < background.rows; r++) {
        zAt = r * columns;
        for (let t = 0; t < model.roots.length; t++) walk(model.roots[t]!, 0, 0);
      }
      for (let c = 0; c < columns; c++) phi[c] = phi[c]! / background.rows;
      return { base, contributions: phi, space, method: "tree" };
    },
  };
}
