/** Drift of one feature in one window against its frozen reference: PSI, KS and Jensen–Shannon together. */

import { ValidationError } from "../errors.ts";
import {
  DEFAULT_DRIFT_CONFIG,
  type DriftConfig,
  type JensenShannonResult,
  jensenShannonDriftTest,
  type KsThreshold,
  ksDriftTest,
  psiDriftTest,
  type TestOutcome,
} from "./drift-tests.ts";
import type { PreparedFeatureReference } from "./feature-reference.ts";
import { jensenShannonDistance } from "./jensen-shannon.ts";
import type { KsSample } from "./ks-sample.ts";
import {
  type KsExtremes,
  type KsResult,
  ksResultFromStatistic,
  statisticFromExtremes,
} from "./ks-two-sample.ts";
import { computePsi, type PsiResult } from "./psi.ts";
import { scanAgainstReference } from "./reference-index.ts";
import type { WindowHistogram } from "./window-histogram.ts";

/** Everything Driftline concludes about one feature in one window. */
export interface FeatureDriftReport {
  feature: string;
  type: "number" | "categorical";
  /** Non-missing observations in the window (PSI and Jensen–Shannon use all of them). */
  sampleSize: number;
  /** Missing (null/undefined) observations in the window. */
  missing: number;
  psi: TestOutcome<PsiResult, number>;
  ks: TestOutcome<KsResult, KsThreshold>;
  jensenShannon: TestOutcome<JensenShannonResult, number>;
  /** True when any test named in `config.decideBy` was evaluated and called drift. */
  drift: boolean;
}

/** One window's aggregates as kept by the stream processor. */
export interface DriftWindow {
  /** Counts over the reference bins (merge 1-minute windows with mergeHistograms). */
  histogram: WindowHistogram;
  /** Bounded sample of the window's values for KS (numeric features; mergeKsSamples). */
  sample?: KsSample;
}

interface KsInput {
  extremes: KsExtremes | undefined;
  sampleSize: number;
}

function buildReport(
  reference: PreparedFeatureReference,
  binCounts: number[],
  missing: number,
  ks: KsInput | undefined,
  config: DriftConfig,
): FeatureDriftReport {
  const sampleSize = binCounts.reduce((a, b) => a + b, 0);
  const insufficient = (n: number) =>
    ({ kind: "insufficient-data", sampleSize: n, minSampleSize: config.minSampleSize }) as const;

  let psi: FeatureDriftReport["psi"];
  let jensenShannon: FeatureDriftReport["jensenShannon"];
  if (sampleSize < config.minSampleSize || sampleSize === 0) {
    psi = insufficient(sampleSize);
    jensenShannon = insufficient(sampleSize);
  } else {
    const psiResult = computePsi(
      {
        referenceCounts: reference.referenceWeights,
        currentCounts: binCounts,
        bins: reference.bins,
      },
      { epsilon: config.psi.epsilon },
    );
    psi = {
      kind: "evaluated",
      result: psiResult,
      threshold: config.psi.threshold,
      drift: psiDriftTest.isDrift(psiResult, config.psi.threshold),
    };
    const jsResult: JensenShannonResult = {
      kind: "jensen-shannon",
      distance: jensenShannonDistance(reference.referenceWeights, binCounts, { base: 2 }),
      base: 2,
    };
    jensenShannon = {
      kind: "evaluated",
      result: jsResult,
      threshold: config.jensenShannon.threshold,
      drift: jensenShannonDriftTest.isDrift(jsResult, config.jensenShannon.threshold),
    };
  }

  let ksOutcome: FeatureDriftReport["ks"];
  if (reference.type === "categorical") {
    ksOutcome = { kind: "not-applicable", reason: "KS needs an ordered (numeric) feature" };
  } else if (reference.sampleSize === 0) {
    ksOutcome = { kind: "not-applicable", reason: "the reference has no sample for KS" };
  } else if (
    ks === undefined ||
    ks.extremes === undefined ||
    ks.sampleSize < config.minSampleSize
  ) {
    ksOutcome = insufficient(ks?.sampleSize ?? 0);
  } else {
    const { statistic, sign } = statisticFromExtremes(ks.extremes);
    const result = ksResultFromStatistic(statistic, sign, reference.sampleSize, ks.sampleSize, {
      method: config.ks.method,
      autoExactMaxN: config.ks.autoExactMaxN,
    });
    const threshold: KsThreshold = { alpha: config.ks.alpha, minEffect: config.ks.minEffect };
    ksOutcome = {
      kind: "evaluated",
      result,
      threshold,
      drift: ksDriftTest.isDrift(result, threshold),
    };
  }

  const verdicts = { psi, ks: ksOutcome, "jensen-shannon": jensenShannon } as const;
  const drift = config.decideBy.some((name) => {
    const o = verdicts[name];
    return o.kind === "evaluated" && o.drift;
  });
  return {
    feature: reference.feature,
    type: reference.type,
    sampleSize,
    missing,
    psi,
    ks: ksOutcome,
    jensenShannon,
    drift,
  };
}

/**
 * Evaluates drift of one feature from the raw values of a window (numbers for numeric
 * features, strings for categorical ones; null/undefined count as missing). For numeric
 * features one pass over the values yields both the PSI bin counts and the exact KS statistic
 * against the full reference sample.
 *
 * @throws ValidationError when a value has the wrong type or is NaN/±Infinity
 */
export function evaluateFeatureDrift(
  reference: PreparedFeatureReference,
  values: ArrayLike<number | string | null | undefined>,
  config: DriftConfig = DEFAULT_DRIFT_CONFIG,
): FeatureDriftReport {
  if (reference.index !== undefined) {
    const scan = scanAgainstReference(
      reference.index,
      values as ArrayLike<number | null | undefined>,
    );
    return buildReport(
      reference,
      scan.binCounts,
      scan.missing,
      { extremes: scan.ks, sampleSize: scan.sampleSize },
      config,
    );
  }
  const counts = new Array<number>(reference.binner.binCount).fill(0);
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      missing++;
      continue;
    }
    const b = reference.binner.binOf(v);
    counts[b] = (counts[b] as number) + 1;
  }
  return buildReport(reference, counts, missing, undefined, config);
}

/**
 * Evaluates drift of one feature from a window's mergeable aggregates (histogram over the
 * frozen bins, bounded KS sample): the path the stream processor takes for sliding and hourly
 * windows built from 1-minute ones.
 *
 * @throws ValidationError when the histogram was counted over other bins
 */
export function evaluateWindowDrift(
  reference: PreparedFeatureReference,
  window: DriftWindow,
  config: DriftConfig = DEFAULT_DRIFT_CONFIG,
): FeatureDriftReport {
  const { histogram, sample } = window;
  if (histogram.binsFingerprint !== reference.binner.fingerprint) {
    throw new ValidationError(
      `the histogram of ${reference.feature} was counted over other bins (${histogram.binsFingerprint}, expected ${reference.binner.fingerprint})`,
      [{ field: "histogram.binsFingerprint", message: "does not match the reference bins" }],
    );
  }
  let ks: KsInput | undefined;
  if (reference.index !== undefined && sample !== undefined && sample.values.length > 0) {
    const scan = scanAgainstReference(reference.index, sample.values);
    ks = { extremes: scan.ks, sampleSize: scan.sampleSize };
  }
  return buildReport(reference, [...histogram.counts], histogram.missing, ks, config);
}
