/** Refuses ONNX graphs that could allocate without bound: unlisted operators, subgraphs, huge dimensions. */
import {
  canonicalDomain,
  isAllowedOperator,
  ONNX_ML_DOMAIN,
  refusalReason,
} from "./onnx-operators.ts";
import {
  countFixed32,
  readFields,
  readString,
  readVarints,
  toInt64,
  WIRE_LENGTH_DELIMITED,
  type WireField,
  WireFormatError,
} from "./protobuf-wire.ts";
import { MAX_SCORE_ROWS } from "./score-limits.ts";

// Field numbers from ONNX's onnx.proto (stable since IR version 3).
const MODEL_GRAPH = 7;
const MODEL_FUNCTIONS = 25;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_SPARSE_INITIALIZER = 15;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
const ATTR_NAME = 1;
const ATTR_I = 3;
const ATTR_T = 5;
const ATTR_G = 6;
const ATTR_FLOATS = 7;
const ATTR_INTS = 8;
const ATTR_STRINGS = 9;
const ATTR_TENSORS = 10;
const ATTR_GRAPHS = 11;
const ATTR_TYPE = 20;
const ATTR_SPARSE_TENSOR = 22;
const ATTR_SPARSE_TENSORS = 23;
const TENSOR_DIMS = 1;
const TENSOR_NAME = 8;
const SPARSE_VALUES = 1;
const SPARSE_DIMS = 3;
/** AttributeProto.AttributeType GRAPH and GRAPHS. */
const ATTR_TYPE_GRAPHS = new Set([5, 10]);

/** Bytes per element assumed for the bound: float64 and int64, the widest ONNX numbers. */
const BYTES_PER_ELEMENT = 8;

/**
 * Memory one tensor of a full batch may take (32 MiB). An isolate has 128 MB for everything: the
 * ORT wasm heap, the cached models (MODEL_CACHE_MAX_BYTES) and the request's own buffers.
 */
export const ONNX_MAX_TENSOR_BYTES = 32 * 1024 * 1024;
/** Nodes in a graph; sizeable boosted forests are one node, MLPs a few dozen. */
export const ONNX_MAX_NODES = 4096;
/** Initializers (constant tensors) in a graph. */
export const ONNX_MAX_INITIALIZERS = 4096;

export interface OnnxGraphLimits {
  /** Rows of the largest batch the model will score. */
  rows: number;
  maxTensorBytes: number;
  maxNodes: number;
  maxInitializers: number;
}

export const DEFAULT_ONNX_GRAPH_LIMITS: OnnxGraphLimits = {
  rows: MAX_SCORE_ROWS,
  maxTensorBytes: ONNX_MAX_TENSOR_BYTES,
  maxNodes: ONNX_MAX_NODES,
  maxInitializers: ONNX_MAX_INITIALIZERS,
};

export interface OnnxGraphSummary {
  nodes: number;
  initializers: number;
  /** The largest constant dimension or class / target count, and where it was found. */
  largestDimension: number;
  largestDimensionSource: string;
  /** rows × largestDimension × 8: about the largest tensor an allowed operator can produce. */
  estimatedTensorBytes: number;
}

export type OnnxGraphCheck =
  | { ok: true; summary: OnnxGraphSummary }
  | { ok: false; problems: string[] };

/** Problems listed in one answer; a generated graph could otherwise repeat one thousands of times. */
const MAX_PROBLEMS = 20;

/** ai.onnx.ml attributes whose length or value is the width of the operator's output. */
const ML_CLASS_LIST_ATTRIBUTES = new Set([
  "classlabels_strings",
  "classlabels_int64s",
  "classlabels_ints",
]);
const ML_TARGET_COUNT_ATTRIBUTES = new Set(["n_targets", "targets"]);
/** Constant's list attributes: their length is the constant's one dimension. */
const CONSTANT_LIST_ATTRIBUTES = new Set(["value_floats", "value_ints", "value_strings"]);

interface GuardState {
  limits: OnnxGraphLimits;
  nodes: number;
  initializers: number;
  largestDimension: number;
  largestDimensionSource: string;
  refusedOperators: Map<string, { domain: string; opType: string; nodes: string[] }>;
  problems: string[];
}

/**
 * Checks model bytes before they reach onnxruntime: every node's operator is on the allow-list
 * (see onnx-operators.ts), no node carries a subgraph, the graph defines no local functions, node
 * and initializer counts are capped, and a full batch times the largest constant dimension fits
 * `maxTensorBytes`. The bound is an estimate from the graph's constants, not shape inference: with
 * the allowed operators, outputs are the batch times a dimension some constant or class list
 * declares. Never throws; bytes that are not a ModelProto come back as a problem.
 */
export function checkOnnxGraph(
  bytes: Uint8Array,
  limits: OnnxGraphLimits = DEFAULT_ONNX_GRAPH_LIMITS,
): OnnxGraphCheck {
  const state: GuardState = {
    limits,
    nodes: 0,
    initializers: 0,
    largestDimension: 0,
    largestDimensionSource: "",
    refusedOperators: new Map(),
    problems: [],
  };
  try {
    readModel(bytes, state);
  } catch (err) {
    const detail = err instanceof WireFormatError ? err.message : String(err);
    return {
      ok: false,
      problems: [`model does not load as ONNX: the bytes are not a valid ModelProto (${detail})`],
    };
  }
  const problems = [...operatorProblems(state), ...state.problems];
  if (state.nodes > limits.maxNodes) {
    problems.push(
      `the graph has ${state.nodes} nodes; Driftline accepts at most ${limits.maxNodes} (fold constants or simplify the export)`,
    );
  }
  if (state.initializers > limits.maxInitializers) {
    problems.push(
      `the graph has ${state.initializers} initializers; Driftline accepts at most ${limits.maxInitializers}`,
    );
  }
  const estimatedTensorBytes =
    limits.rows * Math.max(1, state.largestDimension) * BYTES_PER_ELEMENT;
  if (estimatedTensorBytes > limits.maxTensorBytes) {
    const allowed = Math.floor(limits.maxTensorBytes / (limits.rows * BYTES_PER_ELEMENT));
    problems.push(
      `${state.largestDimensionSource} has a dimension of ${state.largestDimension}; a batch of ${limits.rows} rows through it needs about ${mebibytes(estimatedTensorBytes)} MiB for one tensor, over the ${mebibytes(limits.maxTensorBytes)} MiB budget (Driftline accepts dimensions and class counts up to ${allowed})`,
    );
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    if (problems.length > MAX_PROBLEMS) {
      shown.push(`and ${problems.length - MAX_PROBLEMS} more problems`);
    }
    return { ok: false, problems: shown };
  }
  return {
    ok: true,
    summary: {
      nodes: state.nodes,
      initializers: state.initializers,
      largestDimension: state.largestDimension,
      largestDimensionSource: state.largestDimensionSource,
      estimatedTensorBytes,
    },
  };
}

function mebibytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 10 ? String(Math.round(mib)) : mib.toFixed(1);
}

function operatorProblems(state: GuardState): string[] {
  return [...state.refusedOperators.values()].map(({ domain, opType, nodes }) => {
    const qualified = canonicalDomain(domain) === "" ? opType : `${domain}.${opType}`;
    const names = nodes.slice(0, 3).map((n) => `"${n}"`);
    const more = nodes.length > 3 ? ` and ${nodes.length - 3} more` : "";
    return `operator ${qualified} (node ${names.join(", ")}${more}) is not allowed: ${refusalReason(domain, opType)}`;
  });
}

function expectMessage(f: WireField, what: string): void {
  if (f.wireType !== WIRE_LENGTH_DELIMITED) {
    throw new WireFormatError(`${what} (field ${f.field}) is not a message`, f.start);
  }
}

function readModel(bytes: Uint8Array, state: GuardState): void {
  let graphs = 0;
  let functions = 0;
  for (const f of readFields(bytes, 0, bytes.length)) {
    if (f.field === MODEL_GRAPH) {
      expectMessage(f, "ModelProto.graph");
      graphs += 1;
      // Protobuf merges repeated occurrences of a message field, so every one is read.
      readGraph(bytes, f, state);
    } else if (f.field === MODEL_FUNCTIONS) {
      functions += 1;
    }
  }
  if (graphs === 0) {
    state.problems.push("model does not load as ONNX: it holds no graph (ModelProto field 7)");
  }
  if (functions > 0) {
    state.problems.push(
      `the model defines ${functions} local function(s); Driftline accepts graphs of built-in operators only (inline the functions when exporting)`,
    );
  }
}

function readGraph(bytes: Uint8Array, graph: WireField, state: GuardState): void {
  for (const f of readFields(bytes, graph.start, graph.end)) {
    if (f.field === GRAPH_NODE) {
      expectMessage(f, "GraphProto.node");
      state.nodes += 1;
      // Past the cap the count is all that is reported; reading on would only cost time.
      if (state.nodes <= state.limits.maxNodes) readNode(bytes, f, state);
    } else if (f.field === GRAPH_INITIALIZER) {
      expectMessage(f, "GraphProto.initializer");
      state.initializers += 1;
      const tensor = readTensorShape(bytes, f);
      noteTensor(state, tensor, `initializer "${tensor.name}"`);
    } else if (f.field === GRAPH_SPARSE_INITIALIZER) {
      expectMessage(f, "GraphProto.sparse_initializer");
      state.initializers += 1;
      const tensor = readSparseTensorShape(bytes, f);
      noteTensor(state, tensor, `sparse initializer "${tensor.name}"`);
    }
  }
}

interface TensorShape {
  name: string;
  dims: number[];
}

function readTensorShape(bytes: Uint8Array, tensor: WireField): TensorShape {
  const shape: TensorShape = { name: "", dims: [] };
  for (const f of readFields(bytes, tensor.start, tensor.end)) {
    if (f.field === TENSOR_DIMS) shape.dims.push(...readVarints(bytes, f).map(toInt64));
    else if (f.field === TENSOR_NAME) shape.name = readString(bytes, f);
  }
  return shape;
}

function readSparseTensorShape(bytes: Uint8Array, sparse: WireField): TensorShape {
  const shape: TensorShape = { name: "", dims: [] };
  for (const f of readFields(bytes, sparse.start, sparse.end)) {
    if (f.field === SPARSE_DIMS) shape.dims.push(...readVarints(bytes, f).map(toInt64));
    else if (f.field === SPARSE_VALUES) {
      expectMessage(f, "SparseTensorProto.values");
      shape.name = readTensorShape(bytes, f).name;
    }
  }
  return shape;
}

function noteTensor(state: GuardState, tensor: TensorShape, source: string): void {
  for (const dim of tensor.dims) {
    if (dim < 0) {
      state.problems.push(`${source} has a negative dimension ${dim}`);
      return;
    }
    noteDimension(state, dim, source);
  }
}

function noteDimension(state: GuardState, dim: number, source: string): void {
  if (dim > state.largestDimension) {
    state.largestDimension = dim;
    state.largestDimensionSource = source;
  }
}

function readNode(bytes: Uint8Array, node: WireField, state: GuardState): void {
  let name = "";
  let opType = "";
  let domain = "";
  const attributes: WireField[] = [];
  for (const f of readFields(bytes, node.start, node.end)) {
    if (f.field === NODE_NAME) name = readString(bytes, f);
    else if (f.field === NODE_OP_TYPE) opType = readString(bytes, f);
    else if (f.field === NODE_DOMAIN) domain = readString(bytes, f);
    else if (f.field === NODE_ATTRIBUTE) {
      expectMessage(f, "NodeProto.attribute");
      attributes.push(f);
    }
  }
  const label = name === "" ? `#${state.nodes}` : name;
  if (!isAllowedOperator(domain, opType)) {
    const key = `${canonicalDomain(domain)}\u0000${opType}`;
    const entry = state.refusedOperators.get(key) ?? { domain, opType, nodes: [] };
    entry.nodes.push(label);
    state.refusedOperators.set(key, entry);
  }
  const where = `node "${label}" (${opType})`;
  for (const a of attributes) readAttribute(bytes, a, { state, where, domain, opType });
}

interface NodeContext {
  state: GuardState;
  where: string;
  domain: string;
  opType: string;
}

function readAttribute(bytes: Uint8Array, attribute: WireField, node: NodeContext): void {
  const { state, where } = node;
  let name = "";
  let type = 0;
  let hasSubgraph = false;
  let intValue: number | undefined;
  let listLength = 0;
  const tensors: TensorShape[] = [];
  for (const f of readFields(bytes, attribute.start, attribute.end)) {
    switch (f.field) {
      case ATTR_NAME:
        name = readString(bytes, f);
        break;
      case ATTR_TYPE:
        type = f.value;
        break;
      case ATTR_I:
        intValue = toInt64(f.value);
        break;
      case ATTR_G:
      case ATTR_GRAPHS:
        hasSubgraph = true;
        break;
      case ATTR_T:
      case ATTR_TENSORS:
        expectMessage(f, "AttributeProto.t");
        tensors.push(readTensorShape(bytes, f));
        break;
      case ATTR_SPARSE_TENSOR:
      case ATTR_SPARSE_TENSORS:
        expectMessage(f, "AttributeProto.sparse_tensor");
        tensors.push(readSparseTensorShape(bytes, f));
        break;
      case ATTR_INTS:
        listLength += readVarints(bytes, f).length;
        break;
      case ATTR_FLOATS:
        listLength += countFixed32(f);
        break;
      case ATTR_STRINGS:
        listLength += 1;
        break;
    }
  }
  if (hasSubgraph || ATTR_TYPE_GRAPHS.has(type)) {
    state.problems.push(
      `${where} has a subgraph in attribute "${name}"; Driftline accepts flat graphs only`,
    );
  }
  const source = `${where} attribute "${name}"`;
  for (const t of tensors) noteTensor(state, t, source);
  if (node.opType === "Constant" && CONSTANT_LIST_ATTRIBUTES.has(name)) {
    noteDimension(state, listLength, source);
  }
  if (canonicalDomain(node.domain) === ONNX_ML_DOMAIN) {
    if (ML_CLASS_LIST_ATTRIBUTES.has(name)) noteDimension(state, listLength, source);
    if (ML_TARGET_COUNT_ATTRIBUTES.has(name) && intValue !== undefined) {
      noteDimension(state, Math.abs(intValue), source);
    }
    if (node.opType === "FeatureVectorizer" && name === "inputdimensions") {
      // The output's width is the sum of its inputs' declared widths.
      const width = sumInts(bytes, attribute);
      noteDimension(state, width, source);
    }
  }
}

function sumInts(bytes: Uint8Array, attribute: WireField): number {
  let sum = 0;
  for (const f of readFields(bytes, attribute.start, attribute.end)) {
    if (f.field === ATTR_INTS) {
      for (const v of readVarints(bytes, f)) sum += Math.abs(toInt64(v));
    }
  }
  return sum;
}
