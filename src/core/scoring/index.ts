/** Scoring rules shared by the Worker and the stream processor: names, feature matrices, version choice, active pointers, prediction records, the ONNX upload guard, direct evaluation of linear and tree graphs. */
export * from "./active-pointer.ts";
export * from "./build-feature-matrix.ts";
export * from "./choose-version.ts";
export * from "./direct-model.ts";
export * from "./names.ts";
export * from "./onnx-graph-guard.ts";
export * from "./onnx-graph-reader.ts";
export { allowedOperators } from "./onnx-operators.ts";
export * from "./prediction-record.ts";
export * from "./recognize-graph.ts";
export * from "./score-limits.ts";
