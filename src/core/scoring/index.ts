/** Scoring rules shared by the Worker and the stream processor: names, feature matrices, version choice, active pointers, prediction records. */
export * from "./active-pointer.ts";
export * from "./build-feature-matrix.ts";
export * from "./choose-version.ts";
export * from "./names.ts";
export * from "./prediction-record.ts";
