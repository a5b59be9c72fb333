/** The background sample explanations measure against: the manifest's rows, else reference draws. */
import type { ManifestFeature, ModelManifest } from "../model-manifest.ts";
import { encodeFeatureRow, UNKNOWN_CATEGORY_INDEX } from "../model-manifest.ts";
import { createRandom, shuffledIndices } from "../random/index.ts";

export interface BackgroundMatrix {
  /** Row-major `[rows, columns]`, encoded as the model's input (float32). */
  values: Float32Array;
  rows: number;
  columns: number;
  source: "manifest" | "reference" | "defaults";
}

/** Fixed so that the same manifest always gives the same background, hence the same answers. */
const BACKGROUND_SEED = 0x5eed;

/**
 * At most `maxRows` rows. The manifest's `background` is used as given (evenly thinned when
 * longer). Without one, the reference keeps each feature's distribution on its own (a sorted
 * sample, or category shares), not joint rows, so rows are built feature by feature: evenly
 * spaced quantiles of the sample, categories in their reference shares ("other" as an unknown
 * category), each column shuffled with a fixed seed so that features vary independently.
 * Features with neither take their default (else 0 or the first category).
 */
export function backgroundMatrix(manifest: ModelManifest, maxRows: number): BackgroundMatrix {
  const features = manifest.features;
  const columns = features.length;
  if (manifest.background && manifest.background.length > 0) {
    const all = manifest.background;
    const rows = Math.min(maxRows, all.length);
    const values = new Float32Array(rows * columns);
    for (let r = 0; r < rows; r++) {
      const row = all[Math.floor((r * all.length) / rows)]!;
      const named: Record<string, unknown> = {};
      features.forEach((f, c) => {
        named[f.name] = row[c];
      });
      const encoded = encodeFeatureRow(features, named, `background.${r}`);
      // The manifest schema checked every row; an issue here is a bug, not bad input.
      if (!encoded.ok) throw new Error(`background row ${r}: ${encoded.issues[0]?.message}`);
      values.set(encoded.values, r * columns);
    }
    return { values, rows, columns, source: "manifest" };
  }
  const reference = manifest.reference?.features ?? {};
  const hasDistribution = features.some((f) => reference[f.name] !== undefined);
  const rows = hasDistribution ? maxRows : 1;
  const values = new Float32Array(rows * columns);
  const random = createRandom(BACKGROUND_SEED);
  features.forEach((feature, c) => {
    const column = referenceColumn(feature, reference[feature.name], rows);
    const order = shuffledIndices(rows, random);
    for (let r = 0; r < rows; r++) values[r * columns + c] = column[order[r]!]!;
  });
  return { values, rows, columns, source: hasDistribution ? "reference" : "defaults" };
}

type Reference = NonNullable<ModelManifest["reference"]>["features"][string];

function referenceColumn(
  feature: ManifestFeature,
  ref: Reference | undefined,
  rows: number,
): number[] {
  if (feature.type === "number") {
    const sample = ref?.type === "number" ? ref.sample : undefined;
    if (sample && sample.length > 0) {
      const sorted = [...sample].sort((a, b) => a - b);
      return Array.from(
        { length: rows },
        (_, r) => sorted[Math.floor(((r + 0.5) * sorted.length) / rows)]!,
      );
    }
    return new Array(rows).fill(feature.default ?? 0);
  }
  const fallback =
    feature.default === undefined ? 0 : Math.max(0, feature.categories.indexOf(feature.default));
  if (ref?.type !== "categorical") return new Array(rows).fill(fallback);
  // Largest-remainder apportionment of the rows to the reference categories, then "other".
  const shares = ref.proportions;
  const counts = shares.map((p) => Math.floor(p * rows));
  const order = shares
    .map((p, i) => ({ i, rest: p * rows - Math.floor(p * rows) }))
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (let left = rows - counts.reduce((a, b) => a + b, 0), k = 0; left > 0; left--, k++) {
    const at = order[k % order.length]!.i;
    counts[at] = counts[at]! + 1;
  }
  const column: number[] = [];
  counts.forEach((count, i) => {
    const name = ref.categories[i];
    const index = name === undefined ? UNKNOWN_CATEGORY_INDEX : feature.categories.indexOf(name);
    for (let k = 0; k < count; k++) column.push(index);
  });
  return column.slice(0, rows);
}
