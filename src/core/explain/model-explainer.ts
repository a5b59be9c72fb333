/** Picks the explanation method a model allows and runs it within the limits. */
import type { ModelManifest } from "../model-manifest.ts";
import type { DirectModel } from "../scoring/direct-model.ts";
import { createAdditiveExplainer } from "./additive-shap.ts";
import { type BackgroundMatrix, backgroundMatrix } from "./background.ts";
import type { ColumnExplanation, ExplanationMethod } from "./explanation.ts";
import {
  type BatchScorer,
  explainByPermutation,
  permutationEvaluations,
} from "./permutation-shap.ts";
import { createTreeExplainer } from "./tree-shap.ts";

export interface ExplainLimits {
  /** Background rows an explanation averages over (the manifest's, or reference draws). */
  backgroundRows: number;
  /** Antithetic sample pairs of a permutation explanation. */
  permutationSamples: number;
  /** Fewer samples than this and the standard error is no longer worth reporting: refused. */
  minPermutationSamples: number;
  /** Model evaluations one request may spend on permutation explanations. */
  maxPermutationEvaluations: number;
  /** Tree explanation work per row: node tests and table additions (TreeExplainer.costPerRow). */
  maxTreeWorkPerRow: number;
  /** Tree explanation work of one request. */
  maxTreeWork: number;
  /** Rows per model call when a permutation explanation evaluates through the runtime. */
  maxBatchRows: number;
}

export const EXPLAIN_LIMITS: ExplainLimits = {
  backgroundRows: 100,
  permutationSamples: 256,
  minPermutationSamples: 16,
  maxPermutationEvaluations: 250_000,
  maxTreeWorkPerRow: 2_000_000,
  maxTreeWork: 50_000_000,
  maxBatchRows: 1000,
};

/** Fixed: the same request explained twice gives the same numbers. */
const PERMUTATION_SEED = 0x5a9;

export type ExplainOutcome =
  | { ok: true; explanations: ColumnExplanation[] }
  | { ok: false; reason: string };

export interface ModelExplainer {
  /** The method this model's explanations use, or why it has none. */
  method: ExplanationMethod | undefined;
  refusal?: string;
  background: BackgroundMatrix | undefined;
  /** Explains every row of row-major `values`; `score` runs the model (permutation only). */
  explain(values: Float32Array, rows: number, score: BatchScorer): Promise<ExplainOutcome>;
}

/**
 * The exact method when the graph was recognised (linear → additive Shapley values, trees →
 * interventional TreeSHAP), permutation sampling through the runtime otherwise.
 */
export function createModelExplainer(
  manifest: ModelManifest,
  model: DirectModel | undefined,
  limits: ExplainLimits = EXPLAIN_LIMITS,
): ModelExplainer {
  const columns = manifest.features.length;
  if (model?.kind === "additive") {
    const background = backgroundMatrix(manifest, limits.backgroundRows);
    const explainer = createAdditiveExplainer(model, background);
    return {
      method: "linear",
      background,
      async explain(values, rows) {
        const explanations = [];
        for (let r = 0; r < rows; r++) explanations.push(explainer.explain(values, r * columns));
        return { ok: true, explanations };
      },
    };
  }
  if (model?.kind === "trees") {
    const background = backgroundMatrix(manifest, limits.backgroundRows);
    const explainer = createTreeExplainer(model, background);
    const perRow = explainer.costPerRow;
    if (perRow > limits.maxTreeWorkPerRow) {
      return refused(
        `the tree ensemble (${model.roots.length} trees, ${model.mode.length} nodes, depth ${model.depth}) needs about ${perRow} steps per explained row against ${background.rows} background rows; Driftline spends at most ${limits.maxTreeWorkPerRow}`,
      );
    }
    return {
      method: "tree",
      background,
      async explain(values, rows) {
        if (rows * perRow > limits.maxTreeWork) {
          const most = Math.max(1, Math.floor(limits.maxTreeWork / perRow));
          return {
            ok: false,
            reason: `explaining this tree ensemble costs about ${perRow} steps per row; one request may explain at most ${most} rows. Send fewer rows with "explain": true.`,
          };
        }
        const explanations = [];
        for (let r = 0; r < rows; r++) explanations.push(explainer.explain(values, r * columns));
        return { ok: true, explanations };
      },
    };
  }
  const background = backgroundMatrix(manifest, limits.backgroundRows);
  const perSample = permutationEvaluations(columns, 1) - 1;
  const samples = Math.min(
    limits.permutationSamples,
    Math.floor((limits.maxPermutationEvaluations - 1) / Math.max(1, perSample)),
  );
  if (samples < limits.minPermutationSamples) {
    return refused(
      `the model has ${columns} features; a permutation explanation needs ${perSample} model evaluations per sample and at least ${limits.minPermutationSamples} samples, over the ${limits.maxPermutationEvaluations} evaluations a request may spend`,
    );
  }
  const perRow = permutationEvaluations(columns, samples);
  return {
    method: "permutation",
    background,
    async explain(values, rows, score) {
      if (rows * perRow > limits.maxPermutationEvaluations) {
        const most = Math.max(1, Math.floor(limits.maxPermutationEvaluations / perRow));
        return {
          ok: false,
          reason: `this model is explained by permutation sampling, ${perRow} model evaluations per row; one request may explain at most ${most} rows. Send fewer rows with "explain": true.`,
        };
      }
      const explanations = await explainByPermutation(score, background, values, rows, {
        samples,
        maxBatchRows: limits.maxBatchRows,
        seed: PERMUTATION_SEED,
      });
      return { ok: true, explanations };
    },
  };
}

function refused(reason: string): ModelExplainer {
  return {
    method: undefined,
    refusal: reason,
    background: undefined,
    async explain() {
      return { ok: false, reason };
    },
  };
}
