/** The drift reference frozen into a manifest: bins + proportions and a KS sample per feature and score. */
import type { ManifestFeature, ManifestReference } from "../model-manifest.ts";
import { buildCategoricalReference, buildNumericReference } from "../stats/index.ts";

export interface ReferenceOptions {
  /** Seed of the KS sample's draw. */
  seed: number;
  /** Quantile bins per numeric feature (fewer when values repeat), default 10. */
  bins?: number;
  /** Values kept per numeric feature and for the score, for two-sample KS; default 1000. */
  sampleSize?: number;
}

/**
 * Scores are float32 in the runtime; seven significant digits keep the reference faithful to
 * what the scorer can emit while keeping the manifest small.
 */
const roundScore = (x: number) => Number(x.toPrecision(7));

/**
 * The reference of `rows` (feature values keyed by name, as sent to the scorer) and of the
 * model's `scores` on them, fitted by the statistics core (src/core/stats) so that the stream
 * processor's PSI and KS use exactly these bins: numeric quantile bins with open outer bins,
 * categoricals by frequency plus "other".
 */
export function buildReference(
  features: readonly ManifestFeature[],
  rows: readonly Readonly<Record<string, number | string>>[],
  scores: readonly number[],
  options: ReferenceOptions,
): ManifestReference {
  const numeric = {
    bins: options.bins ?? 10,
    sampleSize: options.sampleSize ?? 1000,
    seed: options.seed,
  };
  // The spreads turn the core's interfaces into plain object types, which the manifest schema's
  // open (extra fields allowed) types accept.
  const out: ManifestReference["features"] = {};
  for (const feature of features) {
    out[feature.name] =
      feature.type === "number"
        ? {
            ...buildNumericReference(
              rows.map((r) => r[feature.name] as number),
              numeric,
            ),
          }
        : { ...buildCategoricalReference(rows.map((r) => r[feature.name] as string)) };
  }
  return {
    rows: rows.length,
    features: out,
    score: { ...buildNumericReference(scores.map(roundScore), numeric) },
  };
}
