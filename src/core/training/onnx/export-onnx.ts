/** ONNX graphs for the trained models: input `features` float [batch, n], output `probability`. */
import type { InputColumn } from "../design-matrix.ts";
import { expandedWidth } from "../design-matrix.ts";
import type { GbtModel } from "../gradient-boosted-trees.ts";
import type { LinearModel } from "../logistic-regression.ts";
import type { MlpModel } from "../mlp.ts";
import {
  batchTensorInfo,
  encodeModel,
  floatTensor,
  int64Tensor,
  ML_DOMAIN,
  type NodeProto,
  node,
  type TensorProto,
} from "./onnx-builder.ts";

export const INPUT_NAME = "features";
export const OUTPUT_NAME = "probability";

export interface ExportOptions {
  /** Model name for the graph and the doc string. */
  name: string;
  /** Extra metadata_props, e.g. the feature order. */
  metadata?: Record<string, string>;
}

interface Expansion {
  nodes: NodeProto[];
  initializers: TensorProto[];
  /** Tensor holding the expanded [batch, D] input. */
  output: string;
}

/**
 * The graph version of expandRow: runs of number columns are gathered as they are; a categorical
 * column c with k categories becomes Cast(Equal(x[:, c], [0, …, k−1])) — a one-hot block that is
 * all zeros for the unknown index −1 — and the pieces are concatenated in column order.
 */
function expandInput(columns: readonly InputColumn[]): Expansion {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const pieces: string[] = [];
  let run: number[] = [];
  const flushNumbers = () => {
    if (run.length === 0) return;
    const id = pieces.length;
    initializers.push(int64Tensor(`num_idx_${id}`, [run.length], run));
    nodes.push(node("Gather", [INPUT_NAME, `num_idx_${id}`], [`num_${id}`], { axis: 1 }));
    pieces.push(`num_${id}`);
    run = [];
  };
  columns.forEach((c, i) => {
    if (c.kind === "number") {
      run.push(i);
      return;
    }
    flushNumbers();
    const id = pieces.length;
    initializers.push(int64Tensor(`cat_idx_${id}`, [1], [i]));
    initializers.push(
      floatTensor(
        `cat_levels_${id}`,
        [c.levels],
        Array.from({ length: c.levels }, (_, k) => k),
      ),
    );
    nodes.push(node("Gather", [INPUT_NAME, `cat_idx_${id}`], [`cat_col_${id}`], { axis: 1 }));
    nodes.push(node("Equal", [`cat_col_${id}`, `cat_levels_${id}`], [`cat_eq_${id}`]));
    // to = 1: TensorProto.DataType.FLOAT
    nodes.push(node("Cast", [`cat_eq_${id}`], [`onehot_${id}`], { to: 1 }));
    pieces.push(`onehot_${id}`);
  });
  flushNumbers();
  nodes.push(node("Concat", pieces, ["expanded"], { axis: 1 }));
  return { nodes, initializers, output: "expanded" };
}

export function exportLinearModel(model: LinearModel, options: ExportOptions): Uint8Array {
  const D = expandedWidth(model.columns);
  const pre = expandInput(model.columns);
  return encodeModel({
    graphName: options.name,
    docString: `${options.name}: logistic regression, P(convert) = sigmoid(b + w · onehot(x))`,
    nodes: [
      ...pre.nodes,
      node("Gemm", [pre.output, "w", "b"], ["logit"]),
      node("Sigmoid", ["logit"], [OUTPUT_NAME]),
    ],
    initializers: [
      ...pre.initializers,
      floatTensor("w", [D, 1], model.weights),
      floatTensor("b", [1], [model.intercept]),
    ],
    inputs: [batchTensorInfo(INPUT_NAME, "float", [model.columns.length])],
    outputs: [batchTensorInfo(OUTPUT_NAME, "float", [1])],
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
}

export function exportMlpModel(model: MlpModel, options: ExportOptions): Uint8Array {
  const D = expandedWidth(model.columns);
  const H = model.hidden;
  const pre = expandInput(model.columns);
  return encodeModel({
    graphName: options.name,
    docString: `${options.name}: MLP ${D}-${H}(tanh)-1(sigmoid)`,
    nodes: [
      ...pre.nodes,
      node("Gemm", [pre.output, "w1", "b1"], ["hidden_pre"]),
      node("Tanh", ["hidden_pre"], ["hidden"]),
      node("Gemm", ["hidden", "w2", "b2"], ["logit"]),
      node("Sigmoid", ["logit"], [OUTPUT_NAME]),
    ],
    initializers: [
      ...pre.initializers,
      floatTensor("w1", [D, H], model.w1),
      floatTensor("b1", [H], model.b1),
      floatTensor("w2", [H, 1], model.w2),
      floatTensor("b2", [1], [model.b2]),
    ],
    inputs: [batchTensorInfo(INPUT_NAME, "float", [model.columns.length])],
    outputs: [batchTensorInfo(OUTPUT_NAME, "float", [1])],
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
}

/**
 * The ensemble as one ai.onnx.ml TreeEnsembleClassifier, laid out as converters of popular
 * libraries write binary boosted trees: every leaf votes for class 0 with its value, the base
 * score is the one base value, post_transform LOGISTIC. The runtime then outputs `label` (int64
 * [batch]) and `probability` float [batch, 2] = [1 − p, p], so the score is column 1.
 */
export function exportGbtModel(model: GbtModel, options: ExportOptions): Uint8Array {
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const values: number[] = [];
  const modes: string[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const leafTreeIds: number[] = [];
  const leafNodeIds: number[] = [];
  const leafWeights: number[] = [];
  model.trees.forEach((tree, t) => {
    tree.forEach((n, id) => {
      const leaf = n.left === -1;
      treeIds.push(t);
      nodeIds.push(id);
      featureIds.push(leaf ? 0 : n.feature);
      values.push(leaf ? 0 : n.threshold);
      modes.push(leaf ? "LEAF" : "BRANCH_LEQ");
      trueIds.push(leaf ? 0 : n.left);
      falseIds.push(leaf ? 0 : n.right);
      if (leaf) {
        leafTreeIds.push(t);
        leafNodeIds.push(id);
        leafWeights.push(n.value);
      }
    });
  });
  return encodeModel({
    graphName: options.name,
    docString: `${options.name}: ${model.trees.length} gradient-boosted trees, logistic link`,
    nodes: [
      node(
        "TreeEnsembleClassifier",
        [INPUT_NAME],
        ["label", OUTPUT_NAME],
        {
          nodes_treeids: treeIds,
          nodes_nodeids: nodeIds,
          nodes_featureids: featureIds,
          nodes_values: { floats: values },
          nodes_modes: modes,
          nodes_truenodeids: trueIds,
          nodes_falsenodeids: falseIds,
          class_treeids: leafTreeIds,
          class_nodeids: leafNodeIds,
          class_ids: leafTreeIds.map(() => 0),
          class_weights: { floats: leafWeights },
          classlabels_int64s: [0, 1],
          base_values: { floats: [model.baseScore] },
          post_transform: "LOGISTIC",
        },
        ML_DOMAIN,
      ),
    ],
    initializers: [],
    inputs: [batchTensorInfo(INPUT_NAME, "float", [model.inputs])],
    outputs: [batchTensorInfo("label", "int64", []), batchTensorInfo(OUTPUT_NAME, "float", [2])],
    usesMlDomain: true,
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
}
