/** Driftline's trainers (logistic regression, MLP, boosted trees), their ONNX export and the drift reference of a trained model. */
export * from "./design-matrix.ts";
export * from "./gradient-boosted-trees.ts";
export * from "./logistic-regression.ts";
export * from "./metrics.ts";
export * from "./mlp.ts";
export * from "./onnx/export-onnx.ts";
export * from "./onnx/onnx-builder.ts";
export * from "./reference.ts";
