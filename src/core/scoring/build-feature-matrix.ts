/** Rows of named features → the model's float input `[rows, features]` in manifest order. */
import type { FieldIssue } from "../errors.ts";
import { encodeFeatureRow, type ManifestFeature } from "../model-manifest.ts";
import type { LoggedFeatureValue } from "./prediction-record.ts";

export interface FeatureRowInput {
  features: Readonly<Record<string, unknown>>;
}

export type FeatureMatrix =
  | {
      ok: true;
      /** Row-major `[rows, columns]`, float32 like the model's input tensor. */
      values: Float32Array;
      rows: number;
      columns: number;
      /** Per row, every manifest feature by name after defaults: what the predictions log keeps. */
      logged: Record<string, LoggedFeatureValue>[];
    }
  | { ok: false; issues: FieldIssue[] };

/**
 * Encodes every row with the manifest's rules (defaults for absent or null values, categories as
 * their index, −1 for an unknown category). Features the manifest does not name are ignored, so a
 * caller may send one superset of features to several models. `fieldOf(i)` names row i in issue
 * paths (`features` for a single row, `rows.3.features` in a batch). All rows are checked, so the
 * caller learns every problem at once.
 */
export function buildFeatureMatrix(
  features: readonly ManifestFeature[],
  rows: readonly FeatureRowInput[],
  fieldOf: (rowIndex: number) => string,
): FeatureMatrix {
  const columns = features.length;
  const values = new Float32Array(rows.length * columns);
  const logged: Record<string, LoggedFeatureValue>[] = new Array(rows.length);
  const issues: FieldIssue[] = [];
  rows.forEach((row, r) => {
    const encoded = encodeFeatureRow(features, row.features, fieldOf(r));
    if (!encoded.ok) {
      issues.push(...encoded.issues);
      return;
    }
    values.set(encoded.values, r * columns);
    const entry: Record<string, LoggedFeatureValue> = {};
    for (const feature of features) {
      const raw = Object.hasOwn(row.features, feature.name)
        ? row.features[feature.name]
        : undefined;
      // encodeFeatureRow accepted the row, so the value (or its default) has the feature's type.
      entry[feature.name] = (raw ?? feature.default) as LoggedFeatureValue;
    }
    logged[r] = entry;
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, values, rows: rows.length, columns, logged };
}

/** A row the model can always score: each feature's default, else 0 or its first category. */
export function defaultFeatureRow(
  features: readonly ManifestFeature[],
): Record<string, LoggedFeatureValue> {
  const row: Record<string, LoggedFeatureValue> = {};
  for (const f of features) {
    row[f.name] = f.default ?? (f.type === "number" ? 0 : f.categories[0]!);
  }
  return row;
}
