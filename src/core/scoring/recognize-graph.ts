/** Recognises linear and tree-ensemble ONNX graphs and reads them into a DirectModel. */
import {
  type AdditiveModel,
  type DirectModel,
  LEAF,
  type ScoreLink,
  TREE_MODES,
  type TreeEnsembleModel,
} from "./direct-model.ts";
import type { OnnxGraph, OnnxNode, OnnxTensor } from "./onnx-graph-reader.ts";

// The graph is run symbolically: every tensor on the way to the score is kept as one affine
// expression per column over functions of single input columns (a weight times the value, plus a
// lookup for one-hot indicators). Linear graphs stay in that form up to an optional Sigmoid;
// a tree ensemble must read input columns as they are and produce the score itself. Anything
// else (a Tanh, a Softmax over many classes, a second input) is not recognised, and the caller
// scores with onnxruntime instead.

export interface RecognizeOptions {
  input: string;
  output: string;
  /** The output tensor's column holding the score. */
  index: number;
  /** Width of the input tensor: the manifest's feature count. */
  columns: number;
}

export type Recognition = { ok: true; model: DirectModel } | { ok: false; reason: string };

/** g(x) = coef·x + table.get(x). */
interface Term {
  coef: number;
  table: Map<number, number> | undefined;
}

/** constant + Σ_c g_c(x_c). */
interface Affine {
  constant: number;
  terms: Map<number, Term>;
}

type Sym =
  | { kind: "columns"; rank: 1 | 2; cols: Affine[] }
  | { kind: "constant"; dims: number[]; values: Float64Array }
  | { kind: "logistic"; rank: 1 | 2; cols: Affine[] }
  | { kind: "trees"; rank: 1 | 2; width: number; column: (index: number) => Recognition };

class Unrecognised extends Error {}

function fail(reason: string): never {
  throw new Unrecognised(reason);
}

const ML = "ai.onnx.ml";
const ONNX_FLOAT = 1;
const ONNX_DOUBLE = 11;

export function recognizeGraph(graph: OnnxGraph, options: RecognizeOptions): Recognition {
  try {
    return recognize(graph, options);
  } catch (err) {
    if (err instanceof Unrecognised) return { ok: false, reason: err.message };
    throw err;
  }
}

function recognize(graph: OnnxGraph, options: RecognizeOptions): Recognition {
  if (graph.inputs.length !== 1 || graph.inputs[0] !== options.input) {
    fail(`the graph has inputs ${graph.inputs.join(", ")}; one input "${options.input}" is needed`);
  }
  const producer = new Map<string, OnnxNode>();
  for (const node of graph.nodes) for (const out of node.outputs) producer.set(out, node);
  // Only the nodes the score depends on.
  const needed = new Set<OnnxNode>();
  const stack = [options.output];
  while (stack.length > 0) {
    const name = stack.pop()!;
    const node = producer.get(name);
    if (node === undefined || needed.has(node)) continue;
    needed.add(node);
    for (const input of node.inputs) if (input !== "") stack.push(input);
  }
  const syms = new Map<string, Sym>();
  const identity: Affine[] = Array.from({ length: options.columns }, (_, c) => ({
    constant: 0,
    terms: new Map([[c, { coef: 1, table: undefined }]]),
  }));
  syms.set(options.input, { kind: "columns", rank: 2, cols: identity });
  const lookup = (name: string): Sym => {
    const known = syms.get(name);
    if (known) return known;
    const init = graph.initializers.get(name);
    if (init) {
      const sym = constantOf(init);
      syms.set(name, sym);
      return sym;
    }
    return fail(`tensor "${name}" is neither computed nor an initializer`);
  };
  for (const node of graph.nodes) {
    if (!needed.has(node)) continue;
    const outputs = applyNode(
      node,
      node.inputs.map((i) => (i === "" ? undefined : lookup(i))),
    );
    node.outputs.forEach((name, i) => {
      const sym = outputs[i];
      if (sym) syms.set(name, sym);
    });
  }
  const result = syms.get(options.output);
  if (!result) return fail(`output "${options.output}" is not produced by the graph`);
  return finish(result, options);
}

function finish(result: Sym, options: RecognizeOptions): Recognition {
  if (result.kind === "constant") return fail("the score does not depend on the input");
  if (result.kind === "trees") {
    if (options.index >= result.width) fail(`output column ${options.index} does not exist`);
    const column = result.column(options.index);
    // Trees index rows of the whole input, whatever columns they split on.
    return column.ok ? { ok: true, model: { ...column.model, columns: options.columns } } : column;
  }
  const col = result.cols[options.index];
  if (col === undefined) return fail(`output column ${options.index} does not exist`);
  return {
    ok: true,
    model: additiveModel(
      col,
      result.kind === "logistic" ? "logistic" : "identity",
      options.columns,
    ),
  };
}

function additiveModel(a: Affine, link: ScoreLink, columns: number): AdditiveModel {
  const weights = new Float64Array(columns);
  const tables: (Map<number, number> | undefined)[] = new Array(columns).fill(undefined);
  for (const [c, term] of a.terms) {
    if (c < 0 || c >= columns) fail(`input column ${c} is outside the input`);
    weights[c] = term.coef;
    if (term.table && term.table.size > 0) tables[c] = term.table;
  }
  return { kind: "additive", link, columns, bias: a.constant, weights, tables };
}

function constantOf(t: OnnxTensor): Sym {
  const values = t.values();
  if (values === undefined)
    return fail(`initializer "${t.name}" has an element type that is not read`);
  return { kind: "constant", dims: t.dims, values };
}

// ---- affine arithmetic ----

function constAffine(value: number): Affine {
  return { constant: value, terms: new Map() };
}

function scale(a: Affine, k: number): Affine {
  const terms = new Map<number, Term>();
  for (const [c, t] of a.terms) {
    terms.set(c, {
      coef: t.coef * k,
      table: t.table && new Map([...t.table].map(([key, v]) => [key, v * k])),
    });
  }
  return { constant: a.constant * k, terms };
}

/** a + k·b */
function addScaled(a: Affine, b: Affine, k = 1): Affine {
  const out = scale(a, 1);
  out.constant += k * b.constant;
  for (const [c, t] of b.terms) {
    const into = out.terms.get(c) ?? { coef: 0, table: undefined };
    into.coef += k * t.coef;
    if (t.table) {
      const table = into.table ?? new Map<number, number>();
      for (const [key, v] of t.table) table.set(key, (table.get(key) ?? 0) + k * v);
      into.table = table;
    }
    out.terms.set(c, into);
  }
  return out;
}

/** The input column an affine is exactly (x_c), if it is one. */
function pureColumn(a: Affine): number | undefined {
  if (a.constant !== 0 || a.terms.size !== 1) return undefined;
  const [c, t] = [...a.terms][0]!;
  return t.coef === 1 && t.table === undefined ? c : undefined;
}

// ---- operators ----

type Input = Sym | undefined;

function columnsOf(sym: Input, what: string): { rank: 1 | 2; cols: Affine[] } {
  if (sym?.kind !== "columns") return fail(`${what} is not a linear function of the input`);
  return sym;
}

function constOf(sym: Input, what: string): { dims: number[]; values: Float64Array } {
  if (sym?.kind !== "constant") return fail(`${what} is not a constant`);
  return sym;
}

/** A constant broadcast along the columns of a [batch, n] tensor: one value or n of them. */
function broadcastConstant(k: { dims: number[]; values: Float64Array }, n: number, what: string) {
  const rows = k.dims.length === 2 ? k.dims[0]! : 1;
  if (k.dims.length > 2 || rows !== 1) fail(`${what} broadcasts over rows`);
  if (k.values.length === 1) return (_j: number) => k.values[0]!;
  if (k.values.length === n) return (j: number) => k.values[j]!;
  return fail(`${what} has ${k.values.length} values for ${n} columns`);
}

function intAttr(node: OnnxNode, name: string, fallback: number): number {
  return node.attributes.get(name)?.i ?? fallback;
}

function floatAttr(node: OnnxNode, name: string, fallback: number): number {
  return node.attributes.get(name)?.f ?? fallback;
}

function stringAttr(node: OnnxNode, name: string, fallback: string): string {
  return node.attributes.get(name)?.s ?? fallback;
}

/** A float-list attribute, or its `_as_tensor` form (newer ai.onnx.ml opsets). */
function floatsAttr(node: OnnxNode, name: string): number[] {
  const tensor = node.attributes.get(`${name}_as_tensor`)?.t?.values();
  if (tensor) return [...tensor];
  return node.attributes.get(name)?.floats ?? [];
}

function applyNode(node: OnnxNode, inputs: Input[]): Input[] {
  const op = node.domain === "" ? node.opType : `${node.domain}.${node.opType}`;
  const [a, b, c] = inputs;
  switch (op) {
    case "Identity":
      return [a];
    case "Cast": {
      const to = intAttr(node, "to", 0);
      if (a?.kind === "constant") return [a];
      if (to !== ONNX_FLOAT && to !== ONNX_DOUBLE) fail(`Cast to type ${to} changes values`);
      return [{ kind: "columns", ...columnsOf(a, "Cast's input") }];
    }
    case "Flatten": {
      const x = columnsOf(a, "Flatten's input");
      if (intAttr(node, "axis", 1) !== 1) fail("Flatten on another axis than 1");
      return [{ kind: "columns", rank: 2, cols: x.cols }];
    }
    case "Gather":
      return [gather(node, a, b)];
    case "Equal":
      return [equal(a, b)];
    case "Concat": {
      const axis = intAttr(node, "axis", 1);
      if (axis !== 1 && axis !== -1) fail("Concat on another axis than 1");
      const cols: Affine[] = [];
      for (const input of inputs) {
        const x = columnsOf(input, "Concat's input");
        if (x.rank !== 2) fail("Concat of a one-dimensional tensor");
        cols.push(...x.cols);
      }
      return [{ kind: "columns", rank: 2, cols }];
    }
    case "Gemm":
      return [gemm(node, a, b, c)];
    case "MatMul":
      return [matMul(a, b)];
    case "Add":
    case "Sub":
    case "Mul":
    case "Div":
      return [elementwise(op, a, b)];
    case "Sigmoid": {
      const x = columnsOf(a, "Sigmoid's input");
      return [{ kind: "logistic", rank: x.rank, cols: x.cols }];
    }
    case `${ML}.LinearRegressor`:
      return [linearRegressor(node, a)];
    case `${ML}.LinearClassifier`:
      return [undefined, linearClassifier(node, a)];
    case `${ML}.TreeEnsembleRegressor`:
      return [treeEnsemble(node, a, "regressor")];
    case `${ML}.TreeEnsembleClassifier`:
      return [undefined, treeEnsemble(node, a, "classifier")];
    default:
      return fail(`operator ${op} is not linear or a tree ensemble`);
  }
}

function gather(node: OnnxNode, data: Input, indices: Input): Sym {
  const x = columnsOf(data, "Gather's data");
  const idx = constOf(indices, "Gather's indices");
  if (intAttr(node, "axis", 0) !== 1 || x.rank !== 2) fail("Gather on another axis than 1");
  if (idx.dims.length > 1) fail("Gather with multi-dimensional indices");
  const cols = [...idx.values].map((i) => {
    const col = x.cols[i < 0 ? i + x.cols.length : i];
    return col ?? fail(`Gather index ${i} is out of range`);
  });
  return { kind: "columns", rank: idx.dims.length === 0 ? 1 : 2, cols };
}

/** x_c == level, per level: a one-hot indicator (0/1) of each level. */
function equal(a: Input, b: Input): Sym {
  const [symbolic, constant] = a?.kind === "constant" ? [b, a] : [a, b];
  const x = columnsOf(symbolic, "Equal's input");
  const levels = constOf(constant, "Equal's levels");
  const n = Math.max(x.cols.length, levels.values.length);
  const cols: Affine[] = [];
  for (let j = 0; j < n; j++) {
    const col = x.cols.length === 1 ? x.cols[0]! : x.cols[j];
    const level = levels.values.length === 1 ? levels.values[0]! : levels.values[j];
    if (col === undefined || level === undefined) return fail("Equal's inputs do not broadcast");
    const c = pureColumn(col);
    if (c === undefined) fail("Equal on a computed value");
    // Inputs are float32; so are the levels, which compare exactly as ORT compares them.
    cols.push({
      constant: 0,
      terms: new Map([[c, { coef: 0, table: new Map([[Math.fround(level), 1]]) }]]),
    });
  }
  return { kind: "columns", rank: 2, cols };
}

/** out_j = Σ_i w[i, j] · x_i + bias_j */
function combine(
  x: Affine[],
  w: (i: number, j: number) => number,
  n: number,
  bias: (j: number) => number,
) {
  const out: Affine[] = [];
  for (let j = 0; j < n; j++) {
    let acc = constAffine(bias(j));
    x.forEach((col, i) => {
      const weight = w(i, j);
      if (weight !== 0) acc = addScaled(acc, col, weight);
    });
    out.push(acc);
  }
  return out;
}

function gemm(node: OnnxNode, a: Input, b: Input, c: Input): Sym {
  const x = columnsOf(a, "Gemm's A");
  const w = constOf(b, "Gemm's B");
  if (intAttr(node, "transA", 0) !== 0) fail("Gemm with transA");
  const transB = intAttr(node, "transB", 0) !== 0;
  const alpha = floatAttr(node, "alpha", 1);
  const beta = floatAttr(node, "beta", 1);
  if (w.dims.length !== 2) fail("Gemm's B is not a matrix");
  const [rows, cols] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
  if (rows !== x.cols.length) fail(`Gemm's B has ${rows} rows for ${x.cols.length} columns`);
  const weight = transB
    ? (i: number, j: number) => alpha * w.values[j * rows + i]!
    : (i: number, j: number) => alpha * w.values[i * cols + j]!;
  const bias =
    c === undefined ? () => 0 : broadcastConstant(constOf(c, "Gemm's C"), cols, "Gemm's C");
  return { kind: "columns", rank: 2, cols: combine(x.cols, weight, cols, (j) => beta * bias(j)) };
}

function matMul(a: Input, b: Input): Sym {
  const x = columnsOf(a, "MatMul's A");
  const w = constOf(b, "MatMul's B");
  if (x.rank !== 2) fail("MatMul of a one-dimensional input");
  if (w.dims[0] !== x.cols.length || w.dims.length > 2) {
    fail(`MatMul's B has shape [${w.dims.join(", ")}] for ${x.cols.length} columns`);
  }
  const cols = w.dims.length === 2 ? w.dims[1]! : 1;
  const out = combine(
    x.cols,
    (i, j) => w.values[i * cols + j]!,
    cols,
    () => 0,
  );
  return { kind: "columns", rank: w.dims.length === 2 ? 2 : 1, cols: out };
}

function elementwise(op: "Add" | "Sub" | "Mul" | "Div", a: Input, b: Input): Sym {
  if (a?.kind === "columns" && b?.kind === "columns") {
    if (op === "Mul" || op === "Div") fail(`${op} of two computed values is not linear`);
    const n = Math.max(a.cols.length, b.cols.length);
    const pick = (s: Affine[], j: number) =>
      s.length === 1 ? s[0]! : (s[j] ?? fail(`${op} does not broadcast`));
    const cols = Array.from({ length: n }, (_, j) =>
      addScaled(pick(a.cols, j), pick(b.cols, j), op === "Add" ? 1 : -1),
    );
    return { kind: "columns", rank: a.rank === 2 || b.rank === 2 ? 2 : 1, cols };
  }
  const xFirst = a?.kind === "columns";
  const x = columnsOf(xFirst ? a : b, `${op}'s input`);
  const k = constOf(xFirst ? b : a, `${op}'s constant`);
  if (k.dims.length === 2 && x.rank === 1) fail(`${op} widens a one-dimensional tensor`);
  const value = broadcastConstant(k, x.cols.length, `${op}'s constant`);
  const cols = x.cols.map((col, j) => {
    const v = value(j);
    switch (op) {
      case "Add":
        return addScaled(col, constAffine(v));
      case "Sub":
        return xFirst ? addScaled(col, constAffine(v), -1) : addScaled(constAffine(v), col, -1);
      case "Mul":
        return scale(col, v);
      default:
        if (!xFirst) fail("Div by a computed value is not linear");
        return scale(col, 1 / v);
    }
  });
  return { kind: "columns", rank: x.rank, cols };
}

function linearScores(node: OnnxNode, a: Input, rows: number): Affine[] {
  const x = columnsOf(a, `${node.opType}'s input`);
  const coefficients = node.attributes.get("coefficients")?.floats ?? [];
  const intercepts = node.attributes.get("intercepts")?.floats ?? [];
  const k = x.cols.length;
  if (coefficients.length !== rows * k) {
    fail(`${node.opType} has ${coefficients.length} coefficients for ${rows} × ${k}`);
  }
  return combine(
    x.cols,
    (i, j) => coefficients[j * k + i]!,
    rows,
    (j) => intercepts[j] ?? 0,
  );
}

function linearRegressor(node: OnnxNode, a: Input): Sym {
  if (stringAttr(node, "post_transform", "NONE") !== "NONE") {
    fail("LinearRegressor with a post_transform");
  }
  return { kind: "columns", rank: 2, cols: linearScores(node, a, intAttr(node, "targets", 1)) };
}

function classLabelCount(node: OnnxNode): number {
  return (
    (node.attributes.get("classlabels_ints")?.ints.length ?? 0) +
    (node.attributes.get("classlabels_int64s")?.ints.length ?? 0) +
    (node.attributes.get("classlabels_strings")?.strings.length ?? 0)
  );
}

function linearClassifier(node: OnnxNode, a: Input): Sym {
  const intercepts = node.attributes.get("intercepts")?.floats ?? [];
  const labels = classLabelCount(node);
  const rows = intercepts.length > 0 ? intercepts.length : labels;
  let scores = linearScores(node, a, rows);
  if (rows === 1 && labels === 2) {
    // One score s for two classes: the runtime reports [−s, s].
    scores = [scale(scores[0]!, -1), scores[0]!];
  }
  const transform = stringAttr(node, "post_transform", "NONE");
  if (transform === "NONE") return { kind: "columns", rank: 2, cols: scores };
  if (transform === "LOGISTIC") return { kind: "logistic", rank: 2, cols: scores };
  if (transform === "SOFTMAX" && scores.length === 2) {
    // softmax of two scores is the logistic of their difference.
    const [s0, s1] = scores as [Affine, Affine];
    return { kind: "logistic", rank: 2, cols: [addScaled(s0, s1, -1), addScaled(s1, s0, -1)] };
  }
  return fail(`LinearClassifier with post_transform ${transform} over ${scores.length} classes`);
}

interface TreeTables {
  ids: number[];
  nodeIds: number[];
  features: number[];
  thresholds: number[];
  modes: string[];
  trueIds: number[];
  falseIds: number[];
  leafTrees: number[];
  leafNodes: number[];
  leafTargets: number[];
  leafWeights: number[];
  base: number[];
}

function treeTables(node: OnnxNode, kind: "regressor" | "classifier"): TreeTables {
  const ints = (name: string) => node.attributes.get(name)?.ints ?? [];
  const leaf = kind === "classifier" ? "class" : "target";
  const t: TreeTables = {
    ids: ints("nodes_treeids"),
    nodeIds: ints("nodes_nodeids"),
    features: ints("nodes_featureids"),
    thresholds: floatsAttr(node, "nodes_values"),
    modes: node.attributes.get("nodes_modes")?.strings ?? [],
    trueIds: ints("nodes_truenodeids"),
    falseIds: ints("nodes_falsenodeids"),
    leafTrees: ints(`${leaf}_treeids`),
    leafNodes: ints(`${leaf}_nodeids`),
    leafTargets: ints(`${leaf}_ids`),
    leafWeights: floatsAttr(node, `${leaf}_weights`),
    base: floatsAttr(node, "base_values"),
  };
  const n = t.ids.length;
  for (const [name, list] of [
    ["nodes_nodeids", t.nodeIds],
    ["nodes_featureids", t.features],
    ["nodes_values", t.thresholds],
    ["nodes_modes", t.modes],
    ["nodes_truenodeids", t.trueIds],
    ["nodes_falsenodeids", t.falseIds],
  ] as const) {
    if (list.length !== n)
      fail(`${node.opType}'s ${name} has ${list.length} entries for ${n} nodes`);
  }
  const leaves = t.leafTrees.length;
  if (
    t.leafNodes.length !== leaves ||
    t.leafTargets.length !== leaves ||
    t.leafWeights.length !== leaves
  ) {
    fail(`${node.opType}'s ${leaf} attributes differ in length`);
  }
  return t;
}

/** The ensemble's margin for output column `index`: leaf weights per (tree, node) and a base. */
type ColumnPlan = { weight: (target: number, w: number) => number; base: number; link: ScoreLink };

function treeEnsemble(node: OnnxNode, a: Input, kind: "regressor" | "classifier"): Sym {
  const x = columnsOf(a, `${node.opType}'s input`);
  const inputColumns = x.cols.map(
    (col) => pureColumn(col) ?? fail(`${node.opType} reads a computed value`),
  );
  const t = treeTables(node, kind);
  const transform = stringAttr(node, "post_transform", "NONE");
  const aggregate = stringAttr(node, "aggregate_function", "SUM");
  if (aggregate !== "SUM" && aggregate !== "AVERAGE")
    fail(`${node.opType} aggregates with ${aggregate}`);
  const treeCount = new Set(t.ids).size;
  const perTree = aggregate === "AVERAGE" ? 1 / treeCount : 1;

  let width: number;
  let plan: (index: number) => ColumnPlan;
  if (kind === "regressor") {
    width = intAttr(node, "n_targets", 1);
    if (transform !== "NONE") fail(`TreeEnsembleRegressor with post_transform ${transform}`);
    plan = (index) => ({
      weight: (target, w) => (target === index ? w * perTree : 0),
      base: t.base[index] ?? 0,
      link: "identity",
    });
  } else {
    const labels = classLabelCount(node);
    const targets = new Set(t.leafTargets);
    width = labels;
    if (labels === 2 && targets.size === 1 && targets.has(0) && t.base.length <= 1) {
      // One weight column for two classes: the runtime scores [σ(−s), σ(s)] (LOGISTIC) or
      // [−s, s] (NONE) when weights have both signs; with only non-negative weights it uses
      // another convention, left to onnxruntime.
      if (t.leafWeights.every((w) => w >= 0))
        fail("binary TreeEnsembleClassifier with non-negative weights");
      if (transform !== "NONE" && transform !== "LOGISTIC") fail(`post_transform ${transform}`);
      const link: ScoreLink = transform === "LOGISTIC" ? "logistic" : "identity";
      plan = (index) => {
        const sign = index === 1 ? 1 : -1;
        return { weight: (_target, w) => sign * w, base: sign * (t.base[0] ?? 0), link };
      };
    } else if (transform === "NONE" || transform === "LOGISTIC") {
      const link: ScoreLink = transform === "LOGISTIC" ? "logistic" : "identity";
      plan = (index) => ({
        weight: (target, w) => (target === index ? w : 0),
        base: t.base[index] ?? 0,
        link,
      });
    } else if (transform === "SOFTMAX" && labels === 2) {
      plan = (index) => {
        const sign = index === 1 ? 1 : -1;
        return {
          weight: (target, w) => (target === 1 ? sign * w : target === 0 ? -sign * w : 0),
          base: sign * ((t.base[1] ?? 0) - (t.base[0] ?? 0)),
          link: "logistic",
        };
      };
    } else {
      return fail(`TreeEnsembleClassifier with post_transform ${transform} over ${labels} classes`);
    }
  }
  return {
    kind: "trees",
    rank: 2,
    width,
    column: (index) => {
      try {
        return { ok: true, model: buildTrees(t, inputColumns, plan(index)) };
      } catch (err) {
        if (err instanceof Unrecognised) return { ok: false, reason: err.message };
        throw err;
      }
    },
  };
}

function buildTrees(t: TreeTables, inputColumns: number[], plan: ColumnPlan): TreeEnsembleModel {
  const n = t.ids.length;
  const key = (tree: number, id: number) => `${tree}:${id}`;
  const index = new Map<string, number>();
  const roots: number[] = [];
  for (let i = 0; i < n; i++) {
    // The first node listed for a tree is its root, as the runtime takes it.
    if (i === 0 || t.ids[i] !== t.ids[i - 1]) {
      if (roots.some((r) => t.ids[r] === t.ids[i])) fail("a tree's nodes are not listed together");
      roots.push(i);
    }
    index.set(key(t.ids[i]!, t.nodeIds[i]!), i);
  }
  const feature = new Int32Array(n);
  const threshold = new Float64Array(n);
  const mode = new Uint8Array(n);
  const yes = new Int32Array(n);
  const no = new Int32Array(n);
  const value = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = TREE_MODES.indexOf(t.modes[i] as (typeof TREE_MODES)[number]);
    if (m < 0) fail(`tree node mode ${t.modes[i]}`);
    mode[i] = m;
    if (m === LEAF) continue;
    const column = inputColumns[t.features[i]!];
    if (column === undefined) fail(`a tree splits on feature ${t.features[i]}, outside the input`);
    feature[i] = column;
    threshold[i] = Math.fround(t.thresholds[i]!);
    const child = (id: number) =>
      index.get(key(t.ids[i]!, id)) ?? fail(`tree ${t.ids[i]} has no node ${id}`);
    yes[i] = child(t.trueIds[i]!);
    no[i] = child(t.falseIds[i]!);
  }
  for (let j = 0; j < t.leafTrees.length; j++) {
    const i = index.get(key(t.leafTrees[j]!, t.leafNodes[j]!));
    if (i === undefined) fail(`a leaf weight names a node that does not exist`);
    value[i] = value[i]! + plan.weight(t.leafTargets[j]!, t.leafWeights[j]!);
  }
  let depth = 0;
  for (const root of roots) depth = Math.max(depth, treeDepth(root, mode, yes, no, n));
  return {
    kind: "trees",
    link: plan.link,
    columns: Math.max(0, ...inputColumns) + 1,
    base: plan.base,
    roots: Int32Array.from(roots),
    feature,
    threshold,
    mode,
    yes,
    no,
    value,
    depth,
  };
}

/** Longest path below `root`; a cycle (depth beyond the node count) is refused. */
function treeDepth(
  root: number,
  mode: Uint8Array,
  yes: Int32Array,
  no: Int32Array,
  n: number,
): number {
  let deepest = 0;
  const stack: [number, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > n) fail("a tree has a cycle");
    if (mode[node] === LEAF) {
      deepest = Math.max(deepest, depth);
      continue;
    }
    stack.push([yes[node]!, depth + 1], [no[node]!, depth + 1]);
  }
  return deepest;
}
