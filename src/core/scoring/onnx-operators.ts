/** The ONNX operators an uploaded model may use, and why some common ones are refused. */

/** ONNX's default operator set; nodes may name it "" or "ai.onnx". */
export const ONNX_DOMAIN = "";
export const ONNX_ML_DOMAIN = "ai.onnx.ml";

/**
 * Enough for linear and logistic models, MLPs and the exporters' preprocessing around them. Every
 * operator here produces a tensor no larger than its inputs, an input broadcast against a
 * constant, or a constant's dimension times the batch; none takes its output size from a value
 * computed inside the graph.
 */
const DEFAULT_DOMAIN_OPS = [
  // Data movement and constants
  "Identity",
  "Constant",
  "Cast",
  "CastLike",
  "Reshape",
  "Flatten",
  "Squeeze",
  "Unsqueeze",
  "Concat",
  "Split",
  "Slice",
  "Gather",
  "GatherElements",
  "Transpose",
  "Shape",
  "Size",
  // Linear algebra and arithmetic
  "MatMul",
  "Gemm",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Neg",
  "Abs",
  "Exp",
  "Log",
  "Sqrt",
  "Pow",
  "Reciprocal",
  "Floor",
  "Ceil",
  "Round",
  "Sign",
  "Erf",
  "Min",
  "Max",
  "Sum",
  "Mean",
  // Activations and normalisation
  "Relu",
  "LeakyRelu",
  "PRelu",
  "Elu",
  "Selu",
  "Sigmoid",
  "HardSigmoid",
  "Tanh",
  "Softmax",
  "LogSoftmax",
  "Softplus",
  "Clip",
  "BatchNormalization",
  "Dropout",
  // Comparisons and selection
  "Equal",
  "Less",
  "LessOrEqual",
  "Greater",
  "GreaterOrEqual",
  "Not",
  "And",
  "Or",
  "Xor",
  "Where",
  "IsNaN",
  "IsInf",
  // Reductions
  "ReduceSum",
  "ReduceMean",
  "ReduceMax",
  "ReduceMin",
  "ArgMax",
  "ArgMin",
] as const;

/** Classic ML operators (scikit-learn, XGBoost and LightGBM converters). */
const ML_DOMAIN_OPS = [
  "LinearClassifier",
  "LinearRegressor",
  "TreeEnsembleClassifier",
  "TreeEnsembleRegressor",
  "ZipMap",
  "Normalizer",
  "Scaler",
  "ArrayFeatureExtractor",
  "Binarizer",
  "Imputer",
  "FeatureVectorizer",
  "LabelEncoder",
] as const;

const ALLOWED = new Map<string, ReadonlySet<string>>([
  [ONNX_DOMAIN, new Set(DEFAULT_DOMAIN_OPS)],
  [ONNX_ML_DOMAIN, new Set(ML_DOMAIN_OPS)],
]);

/** The operator set a node's domain names ("ai.onnx" is the default set's long name). */
export function canonicalDomain(domain: string): string {
  return domain === "ai.onnx" ? ONNX_DOMAIN : domain;
}

export function isAllowedOperator(domain: string, opType: string): boolean {
  return ALLOWED.get(canonicalDomain(domain))?.has(opType) ?? false;
}

/** The allow-list as `domain/op` strings, for docs and tests. */
export function allowedOperators(): string[] {
  return [...ALLOWED].flatMap(([domain, ops]) =>
    [...ops].map((op) => (domain === ONNX_DOMAIN ? op : `${domain}/${op}`)),
  );
}

const SIZED_BY_VALUES =
  "it sizes its output from values inside the graph (a shape, repeat counts, a range, indices found at run time), so a few bytes of model can allocate gigabytes";
const RUNS_SUBGRAPHS = "it runs subgraphs, whose memory the upload check cannot bound";
const RANDOM = "it draws random numbers, so scores would not be reproducible";

/** Why well-known operators are refused; anything else unlisted gets the generic reason. */
const REFUSAL_REASONS = new Map<string, string>([
  ...[
    "ConstantOfShape",
    "Expand",
    "Tile",
    "Range",
    "Resize",
    "Upsample",
    "Pad",
    "OneHot",
    "NonZero",
    "Unique",
    "Compress",
    "TopK",
    "ScatterND",
    "ScatterElements",
    "EyeLike",
  ].map((op): [string, string] => [op, SIZED_BY_VALUES]),
  ...["Loop", "Scan", "If", "SequenceMap"].map((op): [string, string] => [op, RUNS_SUBGRAPHS]),
  ...[
    "RandomNormal",
    "RandomUniform",
    "RandomNormalLike",
    "RandomUniformLike",
    "Multinomial",
    "Bernoulli",
  ].map((op): [string, string] => [op, RANDOM]),
]);

/** Why the (refused) operator is refused, in words a model author can act on. */
export function refusalReason(domain: string, opType: string): string {
  const known = canonicalDomain(domain) === ONNX_DOMAIN ? REFUSAL_REASONS.get(opType) : undefined;
  return (
    known ??
    "it is not in Driftline's allow-list for linear, tree-ensemble and MLP models (see the README's model upload section)"
  );
}
