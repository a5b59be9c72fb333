/** The training-set download (bring your own trainer): columns, CSV lines (RFC 4180) and NDJSON lines. */

/** One settled prediction as exported: features by name, the label and the scoring time. */
export interface ExportedRow {
  features: Readonly<Record<string, unknown>>;
  label: boolean;
  /** Epoch ms. */
  predictedAtMs: number;
}

/** Columns of the export: the features in model input order, then `label` and `time`. */
export function trainingSetColumns(featureNames: readonly string[]): string[] {
  return [...featureNames, "label", "time"];
}

/** A CSV field: quoted when it holds a comma, quote, CR or LF, quotes doubled (RFC 4180). */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text =
    typeof value === "string"
      ? value
      : typeof value === "number" || typeof value === "boolean"
        ? String(value)
        : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(featureNames: readonly string[]): string {
  return `${trainingSetColumns(featureNames).map(csvField).join(",")}\r\n`;
}

/** A row as CSV: missing features empty, label 1 or 0, time ISO-8601 UTC. */
export function csvLine(featureNames: readonly string[], row: ExportedRow): string {
  const fields = featureNames.map((name) => csvField(row.features[name]));
  fields.push(row.label ? "1" : "0", new Date(row.predictedAtMs).toISOString());
  return `${fields.join(",")}\r\n`;
}

/** A row as one NDJSON line: `{ "features": {…}, "label": 0|1, "time": "…" }`, features in order. */
export function ndjsonLine(featureNames: readonly string[], row: ExportedRow): string {
  const features: Record<string, unknown> = {};
  for (const name of featureNames) features[name] = row.features[name] ?? null;
  return `${JSON.stringify({ features, label: row.label ? 1 : 0, time: new Date(row.predictedAtMs).toISOString() })}\n`;
}
