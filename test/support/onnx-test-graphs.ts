/** Small ONNX graphs for tests of the upload check: a logistic model with extra nodes, and bombs. */
import {
  batchTensorInfo,
  encodeModel,
  floatTensor,
  int64Tensor,
  type NodeProto,
  node,
  type TensorProto,
} from "#core/training";

/**
 * `features` float [batch, 3] → `logit` = features · w + b → `extra` nodes, which must turn
 * `logit` into `bomb_out` → `probability` = sigmoid(bomb_out).
 */
export function logisticAround(extra: NodeProto[], initializers: TensorProto[] = []): Uint8Array {
  return encodeModel({
    graphName: "test",
    docString: "",
    nodes: [
      node("Gemm", ["features", "w", "b"], ["logit"]),
      ...extra,
      node("Sigmoid", ["bomb_out"], ["probability"]),
    ],
    initializers: [
      floatTensor("w", [3, 1], [0.1, 0.2, 0.3]),
      floatTensor("b", [1], [0]),
      ...initializers,
    ],
    inputs: [batchTensorInfo("features", "float", [3])],
    outputs: [batchTensorInfo("probability", "float", [1])],
  });
}

/**
 * Zeros [batch, 200 000] shaped from the input's own batch size, averaged into the logit (adds 0).
 * Under 1 KB; it scores one row in 800 KB and a batch of 1000 rows in 800 MB.
 */
export function constantOfShapeBomb(): Uint8Array {
  return logisticAround(
    [
      node("Shape", ["features"], ["input_shape"]),
      node("Gather", ["input_shape", "zero"], ["batch"], { axis: 0 }),
      node("Concat", ["batch", "width"], ["shape"], { axis: 0 }),
      node("ConstantOfShape", ["shape"], ["huge"]),
      node("ReduceMean", ["huge"], ["total"], { axes: [1], keepdims: 1 }),
      node("Add", ["logit", "total"], ["bomb_out"]),
    ],
    [int64Tensor("zero", [1], [0]), int64Tensor("width", [1], [200_000])],
  );
}
