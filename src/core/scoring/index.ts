/** Scoring rules shared by the Worker and the stream processor: names, feature matrices, version choice, active pointers, prediction records, the ONNX upload guard. */
export * from "./active-pointer.ts";
export * from "./build-feature-matrix.ts";
export * from "./choose-version.ts";
export * from "./names.ts";
export * from "./onnx-graph-guard.ts";
export { allowedOperators } from "./onnx-operators.ts";
export * from "./prediction-record.ts";
export * from "./score-limits.ts";
