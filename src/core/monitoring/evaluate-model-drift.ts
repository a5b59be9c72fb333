/** Drift of every monitored column of a model version in one window, its drift levels, and the rows that reproduce it. */

import {
  type DriftConfig,
  evaluateFeatureDrift,
  type FeatureDriftReport,
  type PsiBand,
} from "../stats/index.ts";
import type { ModelReference, MonitoredColumn } from "./model-reference.ts";

/** A column's drift level: the PSI band, raised to significant when the drift tests call drift. */
export type DriftLevel = PsiBand;

/** Severity order of the levels (higher is worse). */
export const DRIFT_LEVEL_RANK: Readonly<Record<DriftLevel, number>> = {
  stable: 0,
  moderate: 1,
  significant: 2,
};

export type WindowKind = "sliding" | "hourly";

/** Which predictions a drift evaluation covered. */
export interface EvaluatedWindow {
  kind: WindowKind;
  /** Earliest scoring time in the window, epoch ms (inclusive). */
  startMs: number;
  /** Exclusive end: latest scoring time + 1 ms for sliding windows, the hour's end for hourly ones. */
  endMs: number;
  /** Predictions in the window. */
  size: number;
}

/** One column's report plus what monitoring makes of it. */
export interface ColumnDrift {
  report: FeatureDriftReport;
  /** undefined when the window held too few values for PSI (no verdict, no state change). */
  level: DriftLevel | undefined;
  referenceSize: number | undefined;
}

/** A drift evaluation of one model version over one window. */
export interface ModelDriftEvaluation {
  window: EvaluatedWindow;
  columns: ColumnDrift[];
}

/**
 * The level of one report: `significant` when the tests named in the drift configuration call
 * drift (PSI ≥ its threshold, or KS with p < alpha and D ≥ the minimum effect), else the PSI band
 * (moderate from 0.1); undefined when PSI could not be computed (too few values).
 */
export function driftLevelOf(report: FeatureDriftReport): DriftLevel | undefined {
  if (report.psi.kind !== "evaluated") return undefined;
  if (report.drift) return "significant";
  return report.psi.result.band;
}

/**
 * Evaluates every monitored column of `reference` on the window's values.
 *
 * @param valuesOf the window's values of a column (numbers or strings; null = missing)
 */
export function evaluateModelDrift(
  reference: ModelReference,
  valuesOf: (column: MonitoredColumn) => ArrayLike<number | string | null>,
  window: EvaluatedWindow,
  config: DriftConfig,
): ModelDriftEvaluation {
  const columns = reference.columns.map((column) => {
    const report = evaluateFeatureDrift(column.reference, valuesOf(column), config);
    return { report, level: driftLevelOf(report), referenceSize: column.referenceSize };
  });
  return { window, columns };
}

/** One row of `drift_results`: everything needed to reproduce the value from the row alone. */
export interface DriftResultRow {
  feature: string;
  test: "psi" | "ks" | "js";
  value: number;
  pValue: number | null;
  band: PsiBand | null;
  isDrift: boolean;
  /** PSI: the bins, ε, reference weights, window counts, both smoothed proportions and the terms. */
  bins: Record<string, unknown> | null;
  referenceSize: number;
  currentSize: number;
  /** Thresholds and method details (KS method, sign, alpha, minimum effect; JS base). */
  details: Record<string, unknown>;
}

/**
 * The `drift_results` rows of an evaluation: one per test that ran on a column (insufficient or
 * not-applicable outcomes produce no row). A reference of unknown size is stored as the number
 * of its bins' weights being proportions (1) with `referenceSizeKnown: false` in the details.
 */
export function driftResultRows(evaluation: ModelDriftEvaluation): DriftResultRow[] {
  const rows: DriftResultRow[] = [];
  for (const { report, level, referenceSize } of evaluation.columns) {
    const common = {
      feature: report.feature,
      currentSize: report.sampleSize,
    };
    const refSize = referenceSize ?? 1;
    const sizeNote = referenceSize === undefined ? { referenceSizeKnown: false } : {};
    if (report.psi.kind === "evaluated") {
      const r = report.psi.result;
      rows.push({
        ...common,
        test: "psi",
        value: r.value,
        pValue: null,
        band: r.band,
        isDrift: report.psi.drift,
        bins: {
          bins: r.bins,
          epsilon: r.epsilon,
          referenceCounts: r.referenceCounts,
          currentCounts: r.currentCounts,
          referenceProportions: r.referenceProportions,
          currentProportions: r.currentProportions,
          terms: r.terms,
        },
        referenceSize: refSize,
        details: {
          threshold: report.psi.threshold,
          level,
          featureDrift: report.drift,
          missing: report.missing,
          ...sizeNote,
        },
      });
    }
    if (report.ks.kind === "evaluated") {
      const r = report.ks.result;
      rows.push({
        ...common,
        test: "ks",
        value: r.statistic,
        pValue: r.pValue,
        band: null,
        isDrift: report.ks.drift,
        bins: null,
        referenceSize: r.n1,
        currentSize: r.n2,
        details: {
          method: r.method,
          requestedMethod: r.requestedMethod,
          sign: r.sign,
          alpha: report.ks.threshold.alpha,
          minEffect: report.ks.threshold.minEffect,
        },
      });
    }
    if (report.jensenShannon.kind === "evaluated") {
      const r = report.jensenShannon.result;
      rows.push({
        ...common,
        test: "js",
        value: r.distance,
        pValue: null,
        band: null,
        isDrift: report.jensenShannon.drift,
        bins: null,
        referenceSize: refSize,
        details: { base: r.base, threshold: report.jensenShannon.threshold, ...sizeNote },
      });
    }
  }
  return rows;
}
