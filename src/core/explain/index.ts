/** Shapley explanations of scores: exact for linear and tree models, sampled for any other graph. */
export * from "./additive-shap.ts";
export * from "./background.ts";
export * from "./explanation.ts";
export * from "./model-explainer.ts";
export * from "./permutation-shap.ts";
export * from "./tree-shap.ts";
