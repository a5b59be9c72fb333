/** Exact interventional Shapley values of additive (linear, logistic) models. */
import { type AdditiveModel, additiveTerm } from "../scoring/direct-model.ts";
import type { BackgroundMatrix } from "./background.ts";
import type { ColumnExplanation } from "./explanation.ts";

// With margin(x) = b + Σ_c g_c(x_c), the value of a coalition S against a background row z is
// b + Σ_{c∈S} g_c(x_c) + Σ_{c∉S} g_c(z_c), so every feature's Shapley value is its own term's
// change: φ_c = g_c(x_c) − mean_z g_c(z_c). This is what shap's LinearExplainer computes with
// feature_perturbation="interventional", extended to one-hot blocks (their weights summed into
// the column that the caller sent). Logistic models are explained in logit (margin) space.

export interface AdditiveExplainer {
  explain(values: ArrayLike<number>, at: number): ColumnExplanation;
}

export function createAdditiveExplainer(
  model: AdditiveModel,
  background: BackgroundMatrix,
): AdditiveExplainer {
  const columns = model.columns;
  const means = new Float64Array(columns);
  for (let c = 0; c < columns; c++) {
    let sum = 0;
    for (let r = 0; r < background.rows; r++) {
      sum += additiveTerm(model, c, background.values[r * columns + c]!);
    }
    means[c] = sum / background.rows;
  }
  const base = means.reduce((a, b) => a + b, model.bias);
  const space = model.link === "logistic" ? "logit" : "probability";
  return {
    explain(values, at) {
      const contributions = new Float64Array(columns);
      for (let c = 0; c < columns; c++) {
        contributions[c] = additiveTerm(model, c, values[at + c]!) - means[c]!;
      }
      return { base, contributions, space, method: "linear" };
    },
  };
}
