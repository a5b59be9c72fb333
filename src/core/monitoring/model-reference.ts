/** A model version's frozen drift reference and baseline, prepared once from its manifest for every window evaluation. */

import type { ModelManifest } from "../model-manifest.ts";
import { type PreparedFeatureReference, prepareFeatureReference } from "../stats/index.ts";
import { SCORE_COLUMN, type WindowColumn } from "./prediction-window.ts";

/** One monitored column with its prepared reference. */
export interface MonitoredColumn extends WindowColumn {
  reference: PreparedFeatureReference;
  /**
   * Reference rows behind the proportions (the manifest's `count`, else the reference's `rows`,
   * else the KS sample size); undefined when the manifest says none of these.
   */
  referenceSize: number | undefined;
}

export interface ModelReference {
  /** Features with a reference, in manifest order, then the score when it has one. */
  columns: MonitoredColumn[];
  /** Every manifest feature plus the score (what the window keeps). */
  windowColumns: WindowColumn[];
  /** Manifest `trainedAt`, epoch ms. */
  trainedAtMs: number | undefined;
  /** Holdout AUC from the manifest's training metrics: the performance baseline. */
  baselineAuc: number | undefined;
}

/**
 * Prepares a manifest's reference. Features without a reference entry are kept in the window
 * (for hourly re-reads and future references) but not tested; a manifest without any reference
 * yields no monitored columns, so only performance is tracked for it.
 *
 * @throws ValidationError naming the bad reference field (as the statistics core reports it)
 */
export function prepareModelReference(manifest: ModelManifest): ModelReference {
  const columns: MonitoredColumn[] = [];
  const ref = manifest.reference;
  for (const feature of manifest.features) {
    const entry = ref?.features[feature.name];
    if (entry === undefined) continue;
    columns.push({
      name: feature.name,
      type: feature.type,
      reference: prepareFeatureReference(feature.name, entry),
      referenceSize: entry.count ?? ref?.rows ?? sampleLength(entry),
    });
  }
  if (ref?.score !== undefined) {
    columns.push({
      name: SCORE_COLUMN,
      type: "number",
      reference: prepareFeatureReference(SCORE_COLUMN, ref.score),
      referenceSize: ref.score.count ?? ref.rows ?? ref.score.sample?.length,
    });
  }
  const windowColumns: WindowColumn[] = [
    ...manifest.features.map((f) => ({ name: f.name, type: f.type })),
    { name: SCORE_COLUMN, type: "number" },
  ];
  const trainedAtMs = manifest.trainedAt === undefined ? undefined : Date.parse(manifest.trainedAt);
  return {
    columns,
    windowColumns,
    trainedAtMs: Number.isFinite(trainedAtMs) ? trainedAtMs : undefined,
    baselineAuc: manifest.training?.metrics?.auc,
  };
}

function sampleLength(entry: { type: string; sample?: number[] }): number | undefined {
  return entry.type === "number" && entry.sample !== undefined && entry.sample.length > 0
    ? entry.sample.length
    : undefined;
}
