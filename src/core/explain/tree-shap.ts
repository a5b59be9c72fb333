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

export interface TreeExplainer {
  explain(values: ArrayLike<number>, at: number): ColumnExplanation;
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
): TreeExplainer {
  const columns = model.columns;
  const bg = background.values;
  let base = 0;
  for (let r = 0; r < background.rows; r++) base += directMargin(model, bg, r * columns);
  base /= background.rows;
  const weights = shapleyWeights(model.depth + 1);
  const space = model.link === "logistic" ? "logit" : "probability";
  const { feature, threshold, mode, yes, no, value } = model;
  // Work arrays, reused: which side each feature has joined (1 = X, 2 = Z) and the sets as stacks.
  const side = new Uint8Array(columns);
  const xSet = new Int32Array(model.depth + 1);
  const zSet = new Int32Array(model.depth + 1);

  return {
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
