/** Reads an ONNX model's main graph: nodes with their attributes, numeric initializers, inputs and outputs. */
import {
  readFields,
  readFixed32Floats,
  readFixed64Doubles,
  readString,
  readVarints,
  toInt64,
  WIRE_FIXED32,
  WIRE_LENGTH_DELIMITED,
  type WireField,
  WireFormatError,
} from "./protobuf-wire.ts";

// Field numbers from ONNX's onnx.proto (stable since IR version 3). The upload guard
// (onnx-graph-guard.ts) reads the same bytes for sizes only; this reader decodes values, lazily:
// a tensor's numbers are decoded the first time they are asked for.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
const ATTR_NAME = 1;
const ATTR_F = 2;
const ATTR_I = 3;
const ATTR_S = 4;
const ATTR_T = 5;
const ATTR_FLOATS = 7;
const ATTR_INTS = 8;
const ATTR_STRINGS = 9;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_INT32_DATA = 5;
const TENSOR_INT64_DATA = 7;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DOUBLE_DATA = 10;
const TENSOR_DATA_LOCATION = 14;

/** TensorProto.DataType values this reader decodes. */
export const ONNX_FLOAT = 1;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
export const ONNX_BOOL = 9;
export const ONNX_DOUBLE = 11;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** The elements in row-major order, or undefined for a type this reader does not decode. */
  values(): Float64Array | undefined;
}

export interface OnnxAttribute {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
  strings: string[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  /** "" for the default domain (also written "ai.onnx"). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

export interface OnnxGraph {
  /** Graph inputs that are not initializers, in order. */
  inputs: string[];
  outputs: string[];
  /** In the graph's order, which ONNX requires to be topological. */
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
}

/** Parses a ModelProto's graph. Throws WireFormatError on bytes that are not protobuf. */
export function readOnnxGraph(bytes: Uint8Array): OnnxGraph {
  const graph: OnnxGraph = { inputs: [], outputs: [], nodes: [], initializers: new Map() };
  for (const f of readFields(bytes, 0, bytes.length)) {
    if (f.field === MODEL_GRAPH) readGraph(bytes, message(f, "ModelProto.graph"), graph);
  }
  graph.inputs = graph.inputs.filter((name) => !graph.initializers.has(name));
  return graph;
}

function message(f: WireField, what: string): WireField {
  if (f.wireType !== WIRE_LENGTH_DELIMITED) {
    throw new WireFormatError(`${what} (field ${f.field}) is not a message`, f.start);
  }
  return f;
}

function readGraph(bytes: Uint8Array, graph: WireField, out: OnnxGraph): void {
  for (const f of readFields(bytes, graph.start, graph.end)) {
    if (f.field === GRAPH_NODE) out.nodes.push(readNode(bytes, message(f, "GraphProto.node")));
    else if (f.field === GRAPH_INITIALIZER) {
      const tensor = readTensor(bytes, message(f, "GraphProto.initializer"));
      out.initializers.set(tensor.name, tensor);
    } else if (f.field === GRAPH_INPUT) out.inputs.push(valueInfoName(bytes, f));
    else if (f.field === GRAPH_OUTPUT) out.outputs.push(valueInfoName(bytes, f));
  }
}

function valueInfoName(bytes: Uint8Array, info: WireField): string {
  message(info, "ValueInfoProto");
  for (const f of readFields(bytes, info.start, info.end)) {
    if (f.field === VALUE_INFO_NAME) return readString(bytes, f);
  }
  return "";
}

function readNode(bytes: Uint8Array, node: WireField): OnnxNode {
  const out: OnnxNode = {
    name: "",
    opType: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributes: new Map(),
  };
  for (const f of readFields(bytes, node.start, node.end)) {
    if (f.field === NODE_INPUT) out.inputs.push(readString(bytes, f));
    else if (f.field === NODE_OUTPUT) out.outputs.push(readString(bytes, f));
    else if (f.field === NODE_NAME) out.name = readString(bytes, f);
    else if (f.field === NODE_OP_TYPE) out.opType = readString(bytes, f);
    else if (f.field === NODE_DOMAIN) out.domain = readString(bytes, f);
    else if (f.field === NODE_ATTRIBUTE) {
      const attribute = readAttribute(bytes, message(f, "NodeProto.attribute"));
      out.attributes.set(attribute.name, attribute);
    }
  }
  if (out.domain === "ai.onnx") out.domain = "";
  return out;
}

function readAttribute(bytes: Uint8Array, attribute: WireField): OnnxAttribute {
  const out: OnnxAttribute = { name: "", floats: [], ints: [], strings: [] };
  for (const f of readFields(bytes, attribute.start, attribute.end)) {
    switch (f.field) {
      case ATTR_NAME:
        out.name = readString(bytes, f);
        break;
      case ATTR_F:
        if (f.wireType !== WIRE_FIXED32)
          throw new WireFormatError("attribute f is not a float", f.start);
        out.f = readFixed32Floats(bytes, f)[0]!;
        break;
      case ATTR_I:
        out.i = toInt64(f.value);
        break;
      case ATTR_S:
        out.s = readString(bytes, f);
        break;
      case ATTR_T:
        out.t = readTensor(bytes, message(f, "AttributeProto.t"));
        break;
      case ATTR_FLOATS:
        out.floats.push(...readFixed32Floats(bytes, f));
        break;
      case ATTR_INTS:
        out.ints.push(...readVarints(bytes, f).map(toInt64));
        break;
      case ATTR_STRINGS:
        out.strings.push(readString(bytes, f));
        break;
    }
  }
  return out;
}

function readTensor(bytes: Uint8Array, tensor: WireField): OnnxTensor {
  let name = "";
  const dims: number[] = [];
  let dataType = 0;
  let external = false;
  const data: WireField[] = [];
  for (const f of readFields(bytes, tensor.start, tensor.end)) {
    if (f.field === TENSOR_DIMS) dims.push(...readVarints(bytes, f).map(toInt64));
    else if (f.field === TENSOR_DATA_TYPE) dataType = f.value;
    else if (f.field === TENSOR_NAME) name = readString(bytes, f);
    else if (f.field === TENSOR_DATA_LOCATION) external = f.value === 1;
    else if (
      f.field === TENSOR_FLOAT_DATA ||
      f.field === TENSOR_INT32_DATA ||
      f.field === TENSOR_INT64_DATA ||
      f.field === TENSOR_DOUBLE_DATA ||
      f.field === TENSOR_RAW_DATA
    ) {
      data.push(f);
    }
  }
  let decoded: Float64Array | undefined | null = null;
  return {
    name,
    dims,
    dataType,
    values() {
      if (decoded === null) decoded = external ? undefined : decodeTensor(bytes, dataType, data);
      return decoded;
    },
  };
}

function decodeTensor(
  bytes: Uint8Array,
  dataType: number,
  fields: readonly WireField[],
): Float64Array | undefined {
  const values: number[] = [];
  for (const f of fields) {
    if (f.field === TENSOR_RAW_DATA) {
      const raw = decodeRaw(bytes, dataType, f);
      if (raw === undefined) return undefined;
      values.push(...raw);
    } else if (f.field === TENSOR_FLOAT_DATA && dataType === ONNX_FLOAT) {
      values.push(...readFixed32Floats(bytes, f));
    } else if (f.field === TENSOR_DOUBLE_DATA && dataType === ONNX_DOUBLE) {
      values.push(...readFixed64Doubles(bytes, f));
    } else if (f.field === TENSOR_INT64_DATA && dataType === ONNX_INT64) {
      values.push(...readVarints(bytes, f).map(toInt64));
    } else if (
      f.field === TENSOR_INT32_DATA &&
      (dataType === ONNX_INT32 || dataType === ONNX_BOOL)
    ) {
      // int32_data holds int32 and bool (and narrower ints) as int32 varints.
      values.push(...readVarints(bytes, f).map((v) => (v >= 2 ** 31 ? toInt64(v) : v)));
    } else {
      return undefined;
    }
  }
  return Float64Array.from(values);
}

function decodeRaw(bytes: Uint8Array, dataType: number, f: WireField): number[] | undefined {
  const size = f.end - f.start;
  const view = new DataView(bytes.buffer, bytes.byteOffset + f.start, size);
  const read = (width: number, get: (offset: number) => number): number[] | undefined => {
    if (size % width !== 0) return undefined;
    const out: number[] = new Array(size / width);
    for (let i = 0; i < out.length; i++) out[i] = get(i * width);
    return out;
  };
  switch (dataType) {
    case ONNX_FLOAT:
      return read(4, (o) => view.getFloat32(o, true));
    case ONNX_DOUBLE:
      return read(8, (o) => view.getFloat64(o, true));
    case ONNX_INT32:
      return read(4, (o) => view.getInt32(o, true));
    case ONNX_INT64:
      return read(8, (o) => Number(view.getBigInt64(o, true)));
    case ONNX_BOOL:
      return read(1, (o) => view.getUint8(o));
    default:
      return undefined;
  }
}
