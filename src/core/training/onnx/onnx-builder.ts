/** Small helpers that build ONNX protobuf messages (onnx-proto) and serialise a model to bytes. */
import onnxProto from "onnx-proto";

// onnx-proto is protobufjs code generated from ONNX's onnx.proto (v1.10.2, IR version 8); the
// package is CommonJS with `module.exports = root`, hence the default import.
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** IR version 8 (ONNX 1.10) with opset 13 (+ ai.onnx.ml 3): well inside onnxruntime-web 1.30. */
export const IR_VERSION = 8;
export const OPSET = 13;
export const ML_DOMAIN = "ai.onnx.ml";
export const ML_OPSET = 3;

export const PRODUCER = { name: "driftline-models", version: "1" } as const;

const DataType = onnxProto.onnx.TensorProto.DataType;
const AttributeType = onnxProto.onnx.AttributeProto.AttributeType;

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  checkSize(name, dims, values.length);
  return { name, dims, dataType: DataType.FLOAT, floatData: Array.from(values, Math.fround) };
}

export function int64Tensor(name: string, dims: number[], values: readonly number[]): TensorProto {
  checkSize(name, dims, values.length);
  return { name, dims, dataType: DataType.INT64, int64Data: [...values] };
}

function checkSize(name: string, dims: number[], length: number): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== length) {
    throw new RangeError(`tensor ${name}: dims ${dims} need ${expected} values, got ${length}`);
  }
}

export type AttributeValue = number | string | number[] | string[] | { floats: number[] };

/**
 * An attribute from a plain value. Integers and integer lists become INT/INTS; use
 * `{ floats: [...] }` or `attrFloat` where a float attribute may hold whole numbers.
 */
export function attribute(name: string, value: AttributeValue): AttributeProto {
  const bytes = (s: string) => new TextEncoder().encode(s);
  if (typeof value === "string") return { name, type: AttributeType.STRING, s: bytes(value) };
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? { name, type: AttributeType.INT, i: value }
      : { name, type: AttributeType.FLOAT, f: value };
  }
  if (!Array.isArray(value)) {
    return { name, type: AttributeType.FLOATS, floats: value.floats.map(Math.fround) };
  }
  if (value.every((v) => typeof v === "string")) {
    return { name, type: AttributeType.STRINGS, strings: (value as string[]).map(bytes) };
  }
  return { name, type: AttributeType.INTS, ints: value as number[] };
}

export function attrFloat(name: string, value: number): AttributeProto {
  return { name, type: AttributeType.FLOAT, f: Math.fround(value) };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeValue> = {},
  domain = "",
): NodeProto {
  return {
    opType,
    input: inputs,
    output: outputs,
    name: `${opType}_${outputs[0]}`,
    domain,
    attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
  };
}

/** A tensor type with a symbolic batch dimension first, e.g. float [batch, 10]. */
export function batchTensorInfo(
  name: string,
  elemType: "float" | "int64",
  trailing: number[],
): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemType === "float" ? DataType.FLOAT : DataType.INT64,
        shape: { dim: [{ dimParam: "batch" }, ...trailing.map((d) => ({ dimValue: d }))] },
      },
    },
  };
}

export interface ModelSpec {
  graphName: string;
  docString: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  usesMlDomain?: boolean;
  /** Written as the model's metadata_props (key/value strings), in the given order. */
  metadata?: Record<string, string>;
}

/** Serialised ModelProto. The same spec always gives the same bytes. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const opsetImport = [{ domain: "", version: OPSET }];
  if (spec.usesMlDomain) opsetImport.push({ domain: ML_DOMAIN, version: ML_OPSET });
  const model = onnxProto.onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport,
    producerName: PRODUCER.name,
    producerVersion: PRODUCER.version,
    modelVersion: 1,
    docString: spec.docString,
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName,
      node: spec.nodes,
      initializer: spec.initializers,
      input: spec.inputs,
      output: spec.outputs,
    },
  });
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

/** Parses bytes back into a ModelProto (used by tests to inspect written files). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnxProto.onnx.ModelProto.decode(bytes);
}
