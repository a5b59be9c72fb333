/** Recognises linear and tree-ensemble ONNX graphs and reads them into a DirectModel. */
import type { AdditiveModel, ScoreLink } from "./direct-model.ts";
import {
  type Affine,
  addScaled,
  broadcastConstant,
  classLabelCount,
  columnsOf,
  combine,
  constAffine,
  constOf,
  fail,
  floatAttr,
  type Input,
  intAttr,
  ML,
  ONNX_DOUBLE,
  ONNX_FLOAT,
  pureColumn,
  type Recognition,
  type Sym,
  scale,
  stringAttr,
  Unrecognised,
} from "./graph-symbols.ts";
import type { OnnxGraph, OnnxNode, OnnxTensor } from "./onnx-graph-reader.ts";
import { treeEnsemble } from "./read-tree-ensemble.ts";

export type { Recognition } from "./graph-symbols.ts";

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
