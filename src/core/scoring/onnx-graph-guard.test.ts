import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { constantOfShapeBomb, logisticAround } from "../../../test/support/onnx-test-graphs.ts";
import { createRandom } from "../random/prng.ts";
import type { InputColumn } from "../training/design-matrix.ts";
import type { TreeNode } from "../training/gradient-boosted-trees.ts";
import {
  exportGbtModel,
  exportLinearModel,
  exportMlpModel,
  INPUT_NAME,
  OUTPUT_NAME,
} from "../training/onnx/export-onnx.ts";
import {
  type AttributeProto,
  batchTensorInfo,
  encodeModel,
  floatTensor,
  int64Tensor,
  type ModelSpec,
  type NodeProto,
  node,
  type TensorProto,
} from "../training/onnx/onnx-builder.ts";
import { checkOnnxGraph, ONNX_MAX_NODES, ONNX_MAX_TENSOR_BYTES } from "./onnx-graph-guard.ts";
import { MAX_SCORE_ROWS } from "./score-limits.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const FLOAT = 1;
const GRAPH = 5;

/** A model `features` [batch, 3] → `probability` [batch, 1] around the given nodes. */
function model(nodes: NodeProto[], initializers: TensorProto[], usesMlDomain = false): Uint8Array {
  const spec: ModelSpec = {
    graphName: "test",
    docString: "",
    nodes,
    initializers,
    inputs: [batchTensorInfo(INPUT_NAME, "float", [3])],
    outputs: [batchTensorInfo(OUTPUT_NAME, "float", [1])],
    usesMlDomain,
  };
  return encodeModel(spec);
}

function problemsOf(bytes: Uint8Array): string[] {
  const check = checkOnnxGraph(bytes);
  if (check.ok) throw new Error(`expected a refusal, got ${JSON.stringify(check.summary)}`);
  return check.problems;
}

describe("checkOnnxGraph refuses graphs that can allocate without bound", () => {
  it("a ConstantOfShape bomb: under 1 KB, 800 KB for one row, 800 MB for a batch", () => {
    const bytes = constantOfShapeBomb();
    expect(bytes.length).toBeLessThan(1024);
    const problems = problemsOf(bytes);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^operator ConstantOfShape \(node "ConstantOfShape_huge"\)/);
    expect(problems[0]).toMatch(/sizes its output from values inside the graph/);
  });

  it("a Tile bomb and an Expand bomb", () => {
    const tile = logisticAround(
      [
        node("Tile", ["logit", "repeats"], ["tiled"]),
        node("ReduceMean", ["tiled"], ["bomb_out"], { axes: [1], keepdims: 1 }),
      ],
      [int64Tensor("repeats", [2], [1, 1_000_000])],
    );
    expect(problemsOf(tile).join("\n")).toMatch(/operator Tile .* is not allowed/);

    const expand = logisticAround(
      [
        node("Expand", ["logit", "shape"], ["wide"]),
        node("ReduceMax", ["wide"], ["bomb_out"], { axes: [1], keepdims: 1 }),
      ],
      [int64Tensor("shape", [2], [1, 1_000_000])],
    );
    expect(problemsOf(expand).join("\n")).toMatch(/operator Expand .* is not allowed/);
  });

  it("a MatMul against a [1, 8 000 000] initializer (32 MB of real weights, under the upload limit)", () => {
    const wide: TensorProto = {
      name: "wide",
      dims: [1, 8_000_000],
      dataType: FLOAT,
      rawData: new Uint8Array(8_000_000 * 4),
    };
    const bytes = logisticAround(
      [
        node("MatMul", ["logit", "wide"], ["spread"]),
        node("ReduceMean", ["spread"], ["bomb_out"], { axes: [1], keepdims: 1 }),
      ],
      [wide],
    );
    expect(bytes.length).toBeLessThan(33_554_432);
    const problems = problemsOf(bytes);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^initializer "wide" has a dimension of 8000000/);
    expect(problems[0]).toMatch(/61035 MiB for one tensor, over the 32 MiB budget/);
    expect(problems[0]).toMatch(/up to 4194\)$/);
  });

  it("puts the budget at rows × dimension × 8 bytes ≤ 32 MiB: 4194 passes, 4195 does not", () => {
    // 1000 × 4194 × 8 = 33 552 000 ≤ 33 554 432 < 1000 × 4195 × 8 = 33 560 000.
    expect(MAX_SCORE_ROWS * 4194 * 8).toBeLessThanOrEqual(ONNX_MAX_TENSOR_BYTES);
    const at = (width: number) =>
      checkOnnxGraph(
        logisticAround(
          [
            node("MatMul", ["logit", "wide"], ["spread"]),
            node("ReduceMean", ["spread"], ["bomb_out"], { axes: [1], keepdims: 1 }),
          ],
          [floatTensor("wide", [1, width], new Float32Array(width))],
        ),
      );
    const ok = at(4194);
    expect(ok).toEqual({
      ok: true,
      summary: {
        nodes: 4,
        initializers: 3,
        largestDimension: 4194,
        largestDimensionSource: 'initializer "wide"',
        estimatedTensorBytes: 33_552_000,
      },
    });
    expect(at(4195).ok).toBe(false);
  });

  it("counts classes of ai.onnx.ml operators and Constant's values as dimensions", () => {
    const classes = model(
      [
        node(
          "LinearClassifier",
          [INPUT_NAME],
          ["label", OUTPUT_NAME],
          {
            coefficients: { floats: new Array(3 * 5000).fill(0) },
            classlabels_ints: Array.from({ length: 5000 }, (_, i) => i),
          },
          "ai.onnx.ml",
        ),
      ],
      [],
      true,
    );
    expect(problemsOf(classes).join("\n")).toMatch(
      /node "LinearClassifier_label" \(LinearClassifier\) attribute "classlabels_ints" has a dimension of 5000/,
    );

    const constant = logisticAround([
      node("Constant", [], ["c"], { value_floats: { floats: new Array(5000).fill(1) } }),
      node("Add", ["logit", "c"], ["bomb_out"]),
    ]);
    expect(problemsOf(constant).join("\n")).toMatch(
      /attribute "value_floats" has a dimension of 5000/,
    );

    const tensorConstant: AttributeProto = {
      name: "value",
      type: 4,
      t: { dims: [1, 1_000_000], dataType: FLOAT, rawData: new Uint8Array(4_000_000) },
    };
    const big = logisticAround([
      { ...node("Constant", [], ["c"]), attribute: [tensorConstant] },
      node("Add", ["logit", "c"], ["bomb_out"]),
    ]);
    expect(problemsOf(big).join("\n")).toMatch(/attribute "value" has a dimension of 1000000/);
  });

  it("a Loop with a subgraph, and a subgraph hidden on an allowed operator", () => {
    const body: AttributeProto = {
      name: "body",
      type: GRAPH,
      g: {
        name: "body",
        node: [node("Identity", ["cond_in"], ["cond_out"])],
        input: [batchTensorInfo("i", "int64", []), batchTensorInfo("cond_in", "float", [])],
        output: [batchTensorInfo("cond_out", "float", [])],
      },
    };
    const loop = logisticAround(
      [
        { ...node("Loop", ["trips", "", "logit"], ["bomb_out"]), attribute: [body] },
        node("Identity", ["bomb_out"], ["unused"]),
      ],
      [int64Tensor("trips", [], [1_000_000_000])],
    );
    const problems = problemsOf(loop);
    expect(problems).toEqual([
      expect.stringMatching(
        /^operator Loop \(node "Loop_bomb_out"\) is not allowed: it runs subgraphs/,
      ),
      'node "Loop_bomb_out" (Loop) has a subgraph in attribute "body"; Driftline accepts flat graphs only',
    ]);

    const hidden = logisticAround([
      { ...node("Identity", ["logit"], ["bomb_out"]), attribute: [body] },
    ]);
    expect(problemsOf(hidden)).toEqual([
      'node "Identity_bomb_out" (Identity) has a subgraph in attribute "body"; Driftline accepts flat graphs only',
    ]);
  });

  it("operators outside the allow-list, in any domain, each named once", () => {
    const bytes = logisticAround([
      node("RandomNormalLike", ["logit"], ["noise"]),
      node("FusedGemm", ["logit", "noise"], ["a"], {}, "com.microsoft"),
      node("FusedGemm", ["a", "noise"], ["bomb_out"], {}, "com.microsoft"),
    ]);
    expect(problemsOf(bytes)).toEqual([
      expect.stringMatching(/^operator RandomNormalLike .* random numbers/),
      expect.stringMatching(
        /^operator com\.microsoft\.FusedGemm \(node "FusedGemm_a", "FusedGemm_bomb_out"\) is not allowed: it is not in Driftline's allow-list/,
      ),
    ]);
  });

  it("caps the node count", () => {
    const chain = Array.from({ length: ONNX_MAX_NODES }, (_, i) =>
      node("Identity", [i === 0 ? "logit" : `n${i - 1}`], [`n${i}`]),
    );
    const bytes = logisticAround([
      ...chain,
      node("Identity", [`n${chain.length - 1}`], ["bomb_out"]),
    ]);
    expect(problemsOf(bytes)).toEqual([
      `the graph has ${ONNX_MAX_NODES + 3} nodes; Driftline accepts at most ${ONNX_MAX_NODES} (fold constants or simplify the export)`,
    ]);
  });
});

describe("checkOnnxGraph on bytes that are not a model", () => {
  const linear = new Uint8Array(readFileSync(resolve(ROOT, "models/fixtures/linear/model.onnx")));

  it("answers text, garbage and an empty buffer with a problem", () => {
    expect(problemsOf(new TextEncoder().encode("definitely not onnx"))).toEqual([
      "model does not load as ONNX: the bytes are not a valid ModelProto (field 12 has wire type 4, which ONNX never uses at byte 0)",
    ]);
    expect(problemsOf(new Uint8Array(0))).toEqual([
      "model does not load as ONNX: it holds no graph (ModelProto field 7)",
    ]);
    expect(problemsOf(new Uint8Array(11).fill(0xff))).toEqual([
      "model does not load as ONNX: the bytes are not a valid ModelProto (varint longer than 10 bytes at byte 0)",
    ]);
    expect(problemsOf(linear.subarray(0, linear.length >> 1))[0]).toMatch(
      /^model does not load as ONNX: the bytes are not a valid ModelProto \(field 7 declares \d+ bytes but \d+ remain at byte \d+\)$/,
    );
  });

  it("never throws on any prefix of a real model or on random bytes", () => {
    for (let end = 0; end <= linear.length; end++) {
      const check = checkOnnxGraph(linear.subarray(0, end));
      if (!check.ok) expect(check.problems.length).toBeGreaterThan(0);
    }
    const random = createRandom(7);
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(1 + random.int(64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = random.int(256);
      expect(() => checkOnnxGraph(bytes)).not.toThrow();
    }
  });
});

describe("checkOnnxGraph accepts the models Driftline ships and exports", () => {
  it.each([
    ["models/conversion/1/model.onnx", 16],
    ["models/fixtures/linear/model.onnx", 16],
    ["models/fixtures/mlp/model.onnx", 16],
    ["models/fixtures/gbt/model.onnx", 2],
  ])("%s", (path, largestDimension) => {
    const check = checkOnnxGraph(new Uint8Array(readFileSync(resolve(ROOT, path))));
    expect(check).toMatchObject({ ok: true, summary: { largestDimension } });
  });

  // Wider than the shipped ones: 40 numbers and a 50-level categorical, 512 hidden units,
  // 300 trees of depth 6.
  const columns: InputColumn[] = [
    ...Array.from({ length: 40 }, (): InputColumn => ({ kind: "number" })),
    { kind: "categorical", levels: 50 },
  ];
  const width = 90;

  it("a wide logistic regression and MLP from the exporters", () => {
    const linear = exportLinearModel(
      { kind: "logistic-regression", columns, intercept: 0, weights: new Float64Array(width) },
      { name: "wide-linear" },
    );
    expect(checkOnnxGraph(linear)).toMatchObject({ ok: true, summary: { largestDimension: 90 } });
    const hidden = 512;
    const mlp = exportMlpModel(
      {
        kind: "mlp",
        columns,
        hidden,
        w1: new Float64Array(width * hidden),
        b1: new Float64Array(hidden),
        w2: new Float64Array(hidden),
        b2: 0,
      },
      { name: "wide-mlp" },
    );
    expect(checkOnnxGraph(mlp)).toMatchObject({ ok: true, summary: { largestDimension: 512 } });
  });

  it("a 300-tree boosted ensemble from the exporter", () => {
    const tree: TreeNode[] = [];
    // A complete tree of depth 6: node i has children 2i+1 and 2i+2; 127 nodes.
    for (let i = 0; i < 127; i++) {
      const leaf = i >= 63;
      tree.push({
        feature: leaf ? 0 : i % 10,
        threshold: leaf ? 0 : 0.5,
        left: leaf ? -1 : 2 * i + 1,
        right: leaf ? -1 : 2 * i + 2,
        value: leaf ? 0.01 : 0,
      });
    }
    const gbt = exportGbtModel(
      { kind: "gbt", baseScore: 0, trees: Array.from({ length: 300 }, () => tree), inputs: 10 },
      { name: "big-gbt" },
    );
    expect(checkOnnxGraph(gbt)).toMatchObject({
      ok: true,
      summary: { nodes: 1, initializers: 0, largestDimension: 2 },
    });
  });

  it("reads integers written one per field as well as packed", () => {
    // protobufjs packs repeated int64 fields; other writers (proto2 defaults) do not. By hand:
    // ModelProto { graph { initializer { dims: 1, dims: 5000, name: "p" }, node { op_type } } }.
    const field = (number: number, payload: number[]) => [
      (number << 3) | 2,
      payload.length,
      ...payload,
    ];
    const varint = (number: number, value: number) => {
      const out = [number << 3];
      for (let v = value; ; v = Math.floor(v / 128)) {
        if (v < 128) return [...out, v];
        out.push((v % 128) | 0x80);
      }
    };
    const ascii = (s: string) => [...new TextEncoder().encode(s)];
    const tensor = [...varint(1, 1), ...varint(1, 5000), ...field(8, ascii("p"))];
    const graph = [...field(5, tensor), ...field(1, field(4, ascii("Identity")))];
    const problems = problemsOf(new Uint8Array(field(7, graph)));
    expect(problems).toEqual([expect.stringMatching(/^initializer "p" has a dimension of 5000;/)]);
  });
});
