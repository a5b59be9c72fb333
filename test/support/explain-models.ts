/**
 * Test models for the direct evaluator and the explainers (linear, tree and MLP graphs of every
 * form the evaluator reads), onnxruntime-node as the reference scorer, and brute-force
 * interventional Shapley values over every coalition.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { type ModelManifest, parseModelManifest } from "#core/model-manifest";
import { createRandom, type Random } from "#core/random";
import {
  batchTensorInfo,
  decodeModel,
  encodeModel,
  floatTensor,
  ML_DOMAIN,
  type NodeProto,
  node,
} from "#core/training";

const ROOT = join(import.meta.dirname, "../..");

export interface TestModel {
  name: string;
  bytes: Uint8Array;
  manifest: ModelManifest;
  /** An output holding the model's margin (before its link), when the graph has one. */
  marginOutput?: string;
}

export function numberManifest(
  columns: number,
  output: { name: string; index: number },
): ModelManifest {
  return parseModelManifest({
    input: "features",
    output,
    features: Array.from({ length: columns }, (_, i) => ({ name: `f${i}`, type: "number" })),
  });
}

/** The committed models: the demo model and the scoring fixtures. */
export function committedModels(): TestModel[] {
  return [
    ["conversion", "models/conversion/1"],
    ["linear", "models/fixtures/linear"],
    ["mlp", "models/fixtures/mlp"],
    ["gbt", "models/fixtures/gbt"],
  ].map(([name, dir]) => ({
    name: name!,
    bytes: new Uint8Array(readFileSync(join(ROOT, dir!, "model.onnx"))),
    manifest: parseModelManifest(
      JSON.parse(readFileSync(join(ROOT, dir!, "manifest.json"), "utf8")),
    ),
  }));
}

/** Adds an intermediate tensor as a graph output, so the runtime reports it too. */
export function withExtraOutput(bytes: Uint8Array, name: string, width: number): Uint8Array {
  const model = decodeModel(bytes);
  model.graph!.output!.push(
    onnxProto.onnx.ValueInfoProto.create(batchTensorInfo(name, "float", [width])),
  );
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

/**
 * The margin of a binary TreeEnsembleClassifier whose leaves vote for class 0 (the layout of the
 * GBT fixture): the same trees as a TreeEnsembleRegressor without post-transform.
 */
export function treeMarginTwin(bytes: Uint8Array): Uint8Array {
  const model = decodeModel(bytes);
  const tree = model.graph!.node!.find((n) => n.opType === "TreeEnsembleClassifier")!;
  const attr = new Map(tree.attribute!.map((a) => [a.name!, a]));
  const copy = (from: string, to = from) => ({ ...attr.get(from)!, name: to });
  const regressor: NodeProto = {
    opType: "TreeEnsembleRegressor",
    domain: ML_DOMAIN,
    name: "margin",
    input: [tree.input![0]!],
    output: ["margin"],
    attribute: [
      ...[
        "nodes_treeids",
        "nodes_nodeids",
        "nodes_featureids",
        "nodes_values",
        "nodes_modes",
        "nodes_truenodeids",
        "nodes_falsenodeids",
        "base_values",
      ].map((n) => copy(n)),
      copy("class_treeids", "target_treeids"),
      copy("class_nodeids", "target_nodeids"),
      copy("class_ids", "target_ids"),
      copy("class_weights", "target_weights"),
      { name: "n_targets", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 },
    ],
  };
  model.graph!.node!.push(regressor);
  model.graph!.output!.push(
    onnxProto.onnx.ValueInfoProto.create(batchTensorInfo("margin", "float", [1])),
  );
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

function gaussians(random: Random, n: number, scale = 1): number[] {
  return Array.from({ length: n }, () => Math.fround(random.normal() * scale));
}

/** A float tensor stored as little-endian raw_data, as most exporters write initializers. */
function rawFloatTensor(name: string, dims: number[], values: number[]) {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return { name, dims, dataType: onnxProto.onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

/**
 * features · w + b → Sigmoid, through Gemm (transB, alpha and beta set; initializers as raw_data),
 * or MatMul + Add. Output `logit` kept as an output.
 */
export function logisticGraph(columns: number, seed: number, form: "gemm" | "matmul"): TestModel {
  const random = createRandom(seed);
  const w = gaussians(random, columns, 0.7);
  const b = Math.fround(random.normal() * 0.3);
  if (form === "gemm") {
    const bytes = encodeModel({
      graphName: "logistic",
      docString: "",
      nodes: [
        {
          ...node("Gemm", ["features", "w", "b"], ["logit"], { transB: 1 }),
          attribute: [
            { name: "transB", type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 },
            { name: "alpha", type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
            { name: "beta", type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: 2 },
          ],
        },
        node("Sigmoid", ["logit"], ["probability"]),
      ],
      initializers: [
        rawFloatTensor(
          "w",
          [1, columns],
          w.map((v) => Math.fround(v * 2)),
        ),
        rawFloatTensor("b", [1], [Math.fround(b / 2)]),
      ],
      inputs: [batchTensorInfo("features", "float", [columns])],
      outputs: [
        batchTensorInfo("probability", "float", [1]),
        batchTensorInfo("logit", "float", [1]),
      ],
    });
    return {
      name: `logistic-gemm-${columns}`,
      bytes,
      manifest: numberManifest(columns, { name: "probability", index: 0 }),
      marginOutput: "logit",
    };
  }
  const nodes = [
    node("MatMul", ["features", "w"], ["product"]),
    node("Add", ["product", "b"], ["logit"]),
  ];
  const bytes = encodeModel({
    graphName: "logistic",
    docString: "",
    nodes: [...nodes, node("Sigmoid", ["logit"], ["probability"])],
    initializers: [floatTensor("w", [columns, 1], w), floatTensor("b", [1], [b])],
    inputs: [batchTensorInfo("features", "float", [columns])],
    outputs: [batchTensorInfo("probability", "float", [1]), batchTensorInfo("logit", "float", [1])],
  });
  return {
    name: `logistic-matmul-${columns}`,
    bytes,
    manifest: numberManifest(columns, { name: "probability", index: 0 }),
    marginOutput: "logit",
  };
}

/** ai.onnx.ml LinearClassifier: `classes` coefficient rows (1 = one score for two labels). */
export function linearClassifierGraph(
  columns: number,
  seed: number,
  classes: 1 | 2,
  postTransform: "LOGISTIC" | "SOFTMAX" | "NONE",
): TestModel {
  const random = createRandom(seed);
  return {
    name: `linear-classifier-${classes}-${postTransform}`,
    bytes: encodeModel({
      graphName: "linear-classifier",
      docString: "",
      nodes: [
        node(
          "LinearClassifier",
          ["features"],
          ["label", "probabilities"],
          {
            coefficients: { floats: gaussians(random, columns * classes, 0.5) },
            intercepts: { floats: gaussians(random, classes, 0.2) },
            classlabels_ints: [0, 1],
            post_transform: postTransform,
          },
          ML_DOMAIN,
        ),
      ],
      initializers: [],
      inputs: [batchTensorInfo("features", "float", [columns])],
      outputs: [
        batchTensorInfo("label", "int64", []),
        batchTensorInfo("probabilities", "float", [2]),
      ],
      usesMlDomain: true,
    }),
    manifest: numberManifest(columns, { name: "probabilities", index: 1 }),
  };
}

export function linearRegressorGraph(columns: number, seed: number): TestModel {
  const random = createRandom(seed);
  return {
    name: "linear-regressor",
    bytes: encodeModel({
      graphName: "linear-regressor",
      docString: "",
      nodes: [
        node(
          "LinearRegressor",
          ["features"],
          ["variable"],
          {
            coefficients: { floats: gaussians(random, columns, 0.05) },
            intercepts: { floats: [0.5] },
          },
          ML_DOMAIN,
        ),
      ],
      initializers: [],
      inputs: [batchTensorInfo("features", "float", [columns])],
      outputs: [batchTensorInfo("variable", "float", [1])],
      usesMlDomain: true,
    }),
    manifest: numberManifest(columns, { name: "variable", index: 0 }),
  };
}

export interface RandomForestSpec {
  columns: number;
  trees: number;
  depth: number;
  seed: number;
  /** Repeat a tree's root feature lower down, to exercise a feature met twice on a path. */
  repeatFeatures?: boolean;
}

interface TreeArrays {
  treeIds: number[];
  nodeIds: number[];
  features: number[];
  values: number[];
  modes: string[];
  trueIds: number[];
  falseIds: number[];
  leafTrees: number[];
  leafNodes: number[];
  leafWeights: number[];
}

/** Full binary trees of the given depth with thresholds near 0 on standard-normal features. */
function randomTrees(spec: RandomForestSpec): TreeArrays {
  const random = createRandom(spec.seed);
  const out: TreeArrays = {
    treeIds: [],
    nodeIds: [],
    features: [],
    values: [],
    modes: [],
    trueIds: [],
    falseIds: [],
    leafTrees: [],
    leafNodes: [],
    leafWeights: [],
  };
  const modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"];
  for (let t = 0; t < spec.trees; t++) {
    const rootFeature = random.int(spec.columns);
    let next = 0;
    const build = (level: number): number => {
      const id = next++;
      const at = out.nodeIds.length;
      out.treeIds.push(t);
      out.nodeIds.push(id);
      if (level === spec.depth) {
        out.features.push(0);
        out.values.push(0);
        out.modes.push("LEAF");
        out.trueIds.push(0);
        out.falseIds.push(0);
        out.leafTrees.push(t);
        out.leafNodes.push(id);
        out.leafWeights.push(Math.fround(random.normal() * 0.5));
        return id;
      }
      const feature =
        spec.repeatFeatures && level > 0 && random.next() < 0.4
          ? rootFeature
          : random.int(spec.columns);
      out.features.push(level === 0 ? rootFeature : feature);
      out.values.push(Math.fround(random.normal() * 0.8));
      out.modes.push(modes[random.int(modes.length)]!);
      out.trueIds.push(0);
      out.falseIds.push(0);
      out.trueIds[at] = build(level + 1);
      out.falseIds[at] = build(level + 1);
      return id;
    };
    build(0);
  }
  return out;
}

/**
 * A random forest as a binary TreeEnsembleClassifier (LOGISTIC, one weight column, as boosted
 * tree converters write it; score = column 1) with its margin twin as a second output.
 */
export function treeClassifierGraph(spec: RandomForestSpec): TestModel {
  const t = randomTrees(spec);
  const bytes = encodeModel({
    graphName: "trees",
    docString: "",
    nodes: [
      node(
        "TreeEnsembleClassifier",
        ["features"],
        ["label", "probabilities"],
        {
          nodes_treeids: t.treeIds,
          nodes_nodeids: t.nodeIds,
          nodes_featureids: t.features,
          nodes_values: { floats: t.values },
          nodes_modes: t.modes,
          nodes_truenodeids: t.trueIds,
          nodes_falsenodeids: t.falseIds,
          class_treeids: t.leafTrees,
          class_nodeids: t.leafNodes,
          class_ids: t.leafTrees.map(() => 0),
          class_weights: { floats: t.leafWeights },
          classlabels_int64s: [0, 1],
          base_values: { floats: [-0.2] },
          post_transform: "LOGISTIC",
        },
        ML_DOMAIN,
      ),
    ],
    initializers: [],
    inputs: [batchTensorInfo("features", "float", [spec.columns])],
    outputs: [
      batchTensorInfo("label", "int64", []),
      batchTensorInfo("probabilities", "float", [2]),
    ],
    usesMlDomain: true,
  });
  return {
    name: `trees-${spec.trees}x${spec.depth}-${spec.columns}`,
    bytes: treeMarginTwin(bytes),
    manifest: numberManifest(spec.columns, { name: "probabilities", index: 1 }),
    marginOutput: "margin",
  };
}

/** The same forest as a TreeEnsembleRegressor (SUM or AVERAGE), output [batch, 1]. */
export function treeRegressorGraph(
  spec: RandomForestSpec,
  aggregate: "SUM" | "AVERAGE",
): TestModel {
  const t = randomTrees(spec);
  return {
    name: `tree-regressor-${aggregate}`,
    bytes: encodeModel({
      graphName: "trees",
      docString: "",
      nodes: [
        node(
          "TreeEnsembleRegressor",
          ["features"],
          ["variable"],
          {
            nodes_treeids: t.treeIds,
            nodes_nodeids: t.nodeIds,
            nodes_featureids: t.features,
            nodes_values: { floats: t.values },
            nodes_modes: t.modes,
            nodes_truenodeids: t.trueIds,
            nodes_falsenodeids: t.falseIds,
            target_treeids: t.leafTrees,
            target_nodeids: t.leafNodes,
            target_ids: t.leafTrees.map(() => 0),
            target_weights: { floats: t.leafWeights },
            n_targets: 1,
            base_values: { floats: [0.1] },
            aggregate_function: aggregate,
          },
          ML_DOMAIN,
        ),
      ],
      initializers: [],
      inputs: [batchTensorInfo("features", "float", [spec.columns])],
      outputs: [batchTensorInfo("variable", "float", [1])],
      usesMlDomain: true,
    }),
    manifest: numberManifest(spec.columns, { name: "variable", index: 0 }),
  };
}

/** A small tanh MLP: not linear, so explained by permutation sampling. */
export function mlpGraph(columns: number, hidden: number, seed: number): TestModel {
  const random = createRandom(seed);
  return {
    name: `mlp-${columns}`,
    bytes: encodeModel({
      graphName: "mlp",
      docString: "",
      nodes: [
        node("Gemm", ["features", "w1", "b1"], ["h_pre"]),
        node("Tanh", ["h_pre"], ["h"]),
        node("Gemm", ["h", "w2", "b2"], ["logit"]),
        node("Sigmoid", ["logit"], ["probability"]),
      ],
      initializers: [
        floatTensor("w1", [columns, hidden], gaussians(random, columns * hidden, 0.6)),
        floatTensor("b1", [hidden], gaussians(random, hidden, 0.2)),
        floatTensor("w2", [hidden, 1], gaussians(random, hidden, 1)),
        floatTensor("b2", [1], [0.1]),
      ],
      inputs: [batchTensorInfo("features", "float", [columns])],
      outputs: [batchTensorInfo("probability", "float", [1])],
    }),
    manifest: numberManifest(columns, { name: "probability", index: 0 }),
  };
}

/** Standard-normal rows, float32, row-major. */
export function randomRows(rows: number, columns: number, seed: number): Float32Array {
  const random = createRandom(seed);
  return Float32Array.from({ length: rows * columns }, () => random.normal());
}

export type Scorer = (values: Float32Array, rows: number) => Promise<Float64Array>;

/** Column `index` of output `output`, scored by onnxruntime-node (native CPU). */
export async function ortScorer(
  bytes: Uint8Array,
  input: string,
  output: string,
  index: number,
): Promise<Scorer & { release(): Promise<void> }> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all" });
  const score = async (values: Float32Array, rows: number) => {
    const columns = values.length / rows;
    const out = (
      await session.run({ [input]: new ort.Tensor("float32", values, [rows, columns]) }, [output])
    )[output]!;
    const width = out.dims.length >= 2 ? Number(out.dims[1]) : 1;
    const data = out.data as Float32Array;
    return Float64Array.from({ length: rows }, (_, r) => data[r * width + index]!);
  };
  return Object.assign(score, { release: () => session.release() });
}

/**
 * Interventional Shapley values by definition: for every coalition S, v(S) = mean over the
 * background rows z of f(x_S, z_¬S); φ_i = Σ_{S ∌ i} |S|!(d−|S|−1)!/d! · (v(S ∪ i) − v(S)).
 * All 2^d · |background| hybrid rows go to `f` (onnxruntime) in one batch. Returns φ and v(∅).
 */
export async function bruteForceShapley(
  f: Scorer,
  x: Float32Array,
  background: Float32Array,
  backgroundRows: number,
): Promise<{ phi: number[]; base: number; full: number }> {
  const d = x.length;
  const coalitions = 1 << d;
  const hybrid = new Float32Array(coalitions * backgroundRows * d);
  for (let s = 0; s < coalitions; s++) {
    for (let r = 0; r < backgroundRows; r++) {
      const at = (s * backgroundRows + r) * d;
      for (let c = 0; c < d; c++) hybrid[at + c] = s & (1 << c) ? x[c]! : background[r * d + c]!;
    }
  }
  const scores = await f(hybrid, coalitions * backgroundRows);
  const v = new Float64Array(coalitions);
  for (let s = 0; s < coalitions; s++) {
    let sum = 0;
    for (let r = 0; r < backgroundRows; r++) sum += scores[s * backgroundRows + r]!;
    v[s] = sum / backgroundRows;
  }
  const factorial = [1];
  for (let i = 1; i <= d; i++) factorial.push(factorial[i - 1]! * i);
  const phi = new Array<number>(d).fill(0);
  for (let s = 0; s < coalitions; s++) {
    let size = 0;
    for (let c = 0; c < d; c++) if (s & (1 << c)) size++;
    const weight = (factorial[size]! * factorial[d - size - 1]!) / factorial[d]!;
    for (let i = 0; i < d; i++) {
      if (s & (1 << i)) continue;
      phi[i] = phi[i]! + weight * (v[s | (1 << i)]! - v[s]!);
    }
  }
  return { phi, base: v[0]!, full: v[coalitions - 1]! };
}
