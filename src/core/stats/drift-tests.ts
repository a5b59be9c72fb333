/** Drift test descriptors ({ name, defaultThreshold, isDrift }), outcome values and the drift configuration. */

import { ValidationError } from "../errors.ts";
import type { KsMethod, KsResult } from "./ks-two-sample.ts";
import { DEFAULT_PSI_EPSILON, type PsiResult } from "./psi.ts";
import { assertNumberOption } from "./validate.ts";

/** Name of a drift test. */
export type DriftTestName = "psi" | "ks" | "jensen-shannon";

/**
 * A drift test: the statistic is computed by a pure function over counts or samples; the
 * descriptor says what it is called, its default threshold and how a result is judged.
 */
export interface DriftTest<R, T> {
  readonly name: DriftTestName;
  readonly defaultThreshold: T;
  /** True when `result` means drift under `threshold` (default: `defaultThreshold`). */
  isDrift(result: R, threshold?: T): boolean;
}

/** Jensen–Shannon distance of the current window's bin proportions from the reference's. */
export interface JensenShannonResult {
  kind: "jensen-shannon";
  distance: number;
  /** Logarithm base used (2 in drift evaluation: the distance lies in [0, 1]). */
  base: number;
}

/** KS drift threshold: a drift call needs p < alpha AND D ≥ minEffect. */
export interface KsThreshold {
  /** Significance level, default 0.05. */
  alpha: number;
  /**
   * Minimum effect size on D, default 0.1. Large windows make tiny, harmless shifts
   * significant; this keeps them from being called drift.
   */
  minEffect: number;
}

/** PSI drift: PSI ≥ threshold (default 0.25, the start of the "significant" band). */
export const psiDriftTest: DriftTest<PsiResult, number> = {
  name: "psi",
  defaultThreshold: 0.25,
  isDrift(result, threshold = 0.25) {
    return result.value >= threshold;
  },
};

/** KS drift: p < alpha and D ≥ minEffect (defaults 0.05 and 0.1). */
export const ksDriftTest: DriftTest<KsResult, KsThreshold> = {
  name: "ks",
  defaultThreshold: { alpha: 0.05, minEffect: 0.1 },
  isDrift(result, threshold = { alpha: 0.05, minEffect: 0.1 }) {
    return result.pValue < threshold.alpha && result.statistic >= threshold.minEffect;
  },
};

/** Jensen–Shannon drift: distance (base 2, in [0, 1]) ≥ threshold (default 0.1). */
export const jensenShannonDriftTest: DriftTest<JensenShannonResult, number> = {
  name: "jensen-shannon",
  defaultThreshold: 0.1,
  isDrift(result, threshold = 0.1) {
    return result.distance >= threshold;
  },
};

/** All drift tests by name. */
export const driftTests = {
  psi: psiDriftTest,
  ks: ksDriftTest,
  "jensen-shannon": jensenShannonDriftTest,
} as const;

/** A test that ran: its result, the threshold applied and the verdict. */
export interface Evaluated<R, T> {
  kind: "evaluated";
  result: R;
  threshold: T;
  drift: boolean;
}

/** Expected outcome, not an error: the window holds fewer observations than the configured minimum. */
export interface InsufficientData {
  kind: "insufficient-data";
  sampleSize: number;
  minSampleSize: number;
}

/** Expected outcome, not an error: the test does not apply (e.g. KS on a categorical feature). */
export interface NotApplicable {
  kind: "not-applicable";
  reason: string;
}

/** What one drift test says about one window. */
export type TestOutcome<R, T> = Evaluated<R, T> | InsufficientData | NotApplicable;

/** Drift evaluation settings (every field has a default; see {@link DEFAULT_DRIFT_CONFIG}). */
export interface DriftConfig {
  /** Fewest non-missing window observations for any test to run (default 100). */
  minSampleSize: number;
  psi: {
    /** Smoothing ε (default 1e-4). */
    epsilon: number;
    /** Drift when PSI ≥ threshold (default 0.25). */
    threshold: number;
  };
  ks: KsThreshold & {
    /** p-value method (default "auto"). */
    method: KsMethod;
    /**
     * `"auto"` is exact up to this max(n1, n2) (default 1 000 here, 10 000 in scipy): streaming
     * windows against a 10k reference sample then use the asymptotic p-value, whose cost does
     * not grow with D·n1·n2 as the exact one for unequal sizes does.
     */
    autoExactMaxN: number;
  };
  jensenShannon: {
    /** Drift when the base-2 distance ≥ threshold (default 0.1). */
    threshold: number;
  };
  /** Tests whose drift verdict makes the feature's overall `drift` true (default psi and ks). */
  decideBy: DriftTestName[];
}

/** The defaults of every drift setting. */
export const DEFAULT_DRIFT_CONFIG: DriftConfig = Object.freeze({
  minSampleSize: 100,
  psi: Object.freeze({ epsilon: DEFAULT_PSI_EPSILON, threshold: 0.25 }),
  ks: Object.freeze({ alpha: 0.05, minEffect: 0.1, method: "auto", autoExactMaxN: 1_000 }),
  jensenShannon: Object.freeze({ threshold: 0.1 }),
  decideBy: Object.freeze(["psi", "ks"]) as unknown as DriftTestName[],
}) as DriftConfig;

/** Partial drift settings, as read from configuration. */
export interface DriftConfigInput {
  minSampleSize?: number;
  psi?: Partial<DriftConfig["psi"]>;
  ks?: Partial<DriftConfig["ks"]>;
  jensenShannon?: Partial<DriftConfig["jensenShannon"]>;
  decideBy?: DriftTestName[];
}

/**
 * Fills defaults into partial drift settings and checks every value.
 * @throws ValidationError naming the first bad field
 */
export function resolveDriftConfig(input: DriftConfigInput = {}): DriftConfig {
  const d = DEFAULT_DRIFT_CONFIG;
  const config: DriftConfig = {
    minSampleSize: input.minSampleSize ?? d.minSampleSize,
    psi: { ...d.psi, ...input.psi },
    ks: { ...d.ks, ...input.ks },
    jensenShannon: { ...d.jensenShannon, ...input.jensenShannon },
    decideBy: [...(input.decideBy ?? d.decideBy)],
  };
  assertNumberOption(config.minSampleSize, "minSampleSize", { min: 1, integer: true });
  assertNumberOption(config.psi.epsilon, "psi.epsilon", { min: 0, max: 0.1 });
  assertNumberOption(config.psi.threshold, "psi.threshold", { min: 0 });
  assertNumberOption(config.ks.alpha, "ks.alpha", { min: 0, max: 1, exclusiveMin: true });
  assertNumberOption(config.ks.minEffect, "ks.minEffect", { min: 0, max: 1 });
  assertNumberOption(config.ks.autoExactMaxN, "ks.autoExactMaxN", { min: 0, integer: true });
  if (!["auto", "exact", "asymp"].includes(config.ks.method)) {
    throw new ValidationError(
      `ks.method is ${String(config.ks.method)}: use "auto", "exact" or "asymp"`,
      [{ field: "ks.method", message: 'must be "auto", "exact" or "asymp"' }],
    );
  }
  assertNumberOption(config.jensenShannon.threshold, "jensenShannon.threshold", { min: 0, max: 1 });
  for (const [i, name] of config.decideBy.entries()) {
    if (!(name in driftTests)) {
      throw new ValidationError(
        `decideBy[${i}] is ${JSON.stringify(name)}: use "psi", "ks" or "jensen-shannon"`,
        [{ field: `decideBy.${i}`, message: "unknown drift test" }],
      );
    }
  }
  return config;
}
