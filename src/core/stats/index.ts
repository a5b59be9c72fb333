/**
 * Driftline's drift statistics, the public entry `driftline/stats`: reference binning, PSI with
 * its bins, two-sample Kolmogorov–Smirnov (exact and asymptotic, agreeing with scipy's
 * `ks_2samp`), Jensen–Shannon distance, mergeable window aggregates and per-feature drift
 * evaluation. Pure functions over arrays; no I/O, no runtime-specific imports. Bad input throws
 * a `ValidationError` (from Driftline's errors) naming the field; expected outcomes such as too
 * few observations are values (`{ kind: "insufficient-data" }`). See README.md beside this file.
 *
 * Every symbol below is documented at its declaration.
 *
 * @module
 */

// Drift tests, configuration and per-feature evaluation.
export {
  DEFAULT_DRIFT_CONFIG,
  type DriftConfig,
  type DriftConfigInput,
  type DriftTest,
  type DriftTestName,
  driftTests,
  type Evaluated,
  type InsufficientData,
  type JensenShannonResult,
  jensenShannonDriftTest,
  type KsThreshold,
  ksDriftTest,
  type NotApplicable,
  psiDriftTest,
  resolveDriftConfig,
  type TestOutcome,
} from "./drift-tests.ts";
export {
  type DriftWindow,
  evaluateFeatureDrift,
  evaluateWindowDrift,
  type FeatureDriftReport,
} from "./feature-drift.ts";
export {
  type BuildCategoricalReferenceOptions,
  type BuildNumericReferenceOptions,
  buildCategoricalReference,
  buildNumericReference,
  type CategoricalReferenceDistribution,
  DEFAULT_REFERENCE_SAMPLE_SIZE,
  type NumericReferenceDistribution,
  type PreparedFeatureReference,
  prepareFeatureReference,
  type ReferenceDistribution,
  referenceBins,
} from "./feature-reference.ts";
// Jensen–Shannon distance.
export { type JensenShannonOptions, jensenShannonDistance } from "./jensen-shannon.ts";
export {
  type ExactKsOutcome,
  exactKsTwoSamplePValue,
} from "./ks-distribution.ts";
export { kolmogorovSf, kstwoSf, smirnovSf } from "./ks-one-sample-distribution.ts";
export {
  addToKsSample,
  createKsSample,
  DEFAULT_KS_SAMPLE_CAPACITY,
  type KsSample,
  mergeAllKsSamples,
  mergeKsSamples,
  samplePriority,
  seededRandom,
} from "./ks-sample.ts";
// Two-sample Kolmogorov–Smirnov and its null distributions.
export {
  asymptoticKsPValue,
  type KsExtremes,
  type KsMethod,
  type KsOptions,
  type KsResult,
  ksResultFromStatistic,
  ksStatisticSorted,
  ksTwoSample,
  resolveKsMethod,
  SCIPY_AUTO_EXACT_MAX_N,
} from "./ks-two-sample.ts";
// Population Stability Index.
export {
  computePsi,
  DEFAULT_PSI_EPSILON,
  PSI_BANDS,
  type PsiBand,
  type PsiInput,
  type PsiOptions,
  type PsiResult,
  psiBand,
} from "./psi.ts";
// Reference binning: quantile edges with right-closed, open-ended bins; categories + "other".
export {
  assertBins,
  binCountOf,
  binLabels,
  binsFingerprint,
  type CategoricalBins,
  categoryIndex,
  countCategorical,
  countNumeric,
  DEFAULT_BIN_COUNT,
  DEFAULT_MAX_CATEGORIES,
  type FitCategoricalBinsOptions,
  type FitNumericBinsOptions,
  fitCategoricalBins,
  fitNumericBins,
  type NumericBins,
  numericBinIndex,
  OTHER_BIN_LABEL,
  type ReferenceBins,
} from "./reference-bins.ts";
// Mergeable window aggregates.
export {
  addToHistogram,
  type Binner,
  createBinner,
  emptyHistogram,
  histogramOf,
  histogramTotal,
  mergeAllHistograms,
  mergeHistograms,
  type WindowHistogram,
} from "./window-histogram.ts";
