/** Hand-made drift reports and evaluations for monitoring tests (PSI chosen, everything else inert). */

import { type FeatureDriftReport, psiBand } from "../../stats/index.ts";
import { driftLevelOf, type ModelDriftEvaluation } from "../evaluate-model-drift.ts";

/** A report whose PSI is `psi` (and whose overall verdict follows PSI ≥ 0.25). */
export function fakeReport(feature: string, psi: number | undefined): FeatureDriftReport {
  const psiOutcome =
    psi === undefined
      ? ({ kind: "insufficient-data", sampleSize: 10, minSampleSize: 100 } as const)
      : ({
          kind: "evaluated",
          threshold: 0.25,
          drift: psi >= 0.25,
          result: {
            kind: "psi",
            value: psi,
            band: psiBand(psi),
            epsilon: 1e-4,
            referenceCounts: [] as number[],
            currentCounts: [] as number[],
            referenceProportions: [] as number[],
            currentProportions: [] as number[],
            terms: [] as number[],
          },
        } as const);
  return {
    feature,
    type: "number",
    sampleSize: 1000,
    missing: 0,
    psi: psiOutcome,
    ks: { kind: "not-applicable", reason: "test" },
    jensenShannon: { kind: "not-applicable", reason: "test" },
    drift: psi !== undefined && psi >= 0.25,
  };
}

export function fakeEvaluation(
  psi: Record<string, number | undefined>,
  n = 0,
): ModelDriftEvaluation {
  return {
    window: { kind: "sliding", startMs: n * 1000, endMs: n * 1000 + 999, size: 1000 },
    columns: Object.entries(psi).map(([feature, value]) => {
      const report = fakeReport(feature, value);
      return { report, level: driftLevelOf(report), referenceSize: 20_000 };
    }),
  };
}
