/**
 * `npm run models:reference -- --model model.onnx --data train.csv [--manifest manifest.json]
 * [--out manifest.json]`: writes a manifest's drift reference (bins, proportions and KS sample per
 * feature and for the score) with Driftline's exact binning, for a model trained elsewhere, so
 * the stream processor monitors it like one trained here. The data is the model's training set:
 * CSV with a header (as GET /v1/retraining-requests/{id}/training-set writes it) or NDJSON
 * (`{ "features": {…} }` per line). The scores are the model's own, run by onnxruntime.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-web";
import {
  encodeFeatureRow,
  type ManifestFeature,
  type ModelManifest,
  parseModelManifest,
} from "#core/model-manifest";
import { buildReference } from "#core/training";

/** Columns of the training-set export that are not features. */
const NOT_FEATURES = new Set(["label", "time"]);
const BATCH_ROWS = 1000;

export interface ReferenceCommandInput {
  modelBytes: Uint8Array;
  /** The data file's text and whether it is NDJSON (else CSV). */
  data: { text: string; ndjson: boolean };
  /** A manifest to complete (features, tensors); inferred from the data and the model when absent. */
  manifest?: Record<string, unknown>;
  seed?: number;
}

/**
 * RFC 4180 CSV into records by header. Hand-written (twenty lines) because no CSV library is a
 * dependency and the format read is the one Driftline's own export writes.
 */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
    } else field += ch;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...body] = rows;
  if (header === undefined) throw new Error("the CSV file is empty; it needs a header row");
  return body.map((values, line) => {
    if (values.length !== header.length) {
      throw new Error(
        `CSV line ${line + 2} has ${values.length} fields, the header ${header.length}`,
      );
    }
    return Object.fromEntries(header.map((h, j) => [h, values[j]!]));
  });
}

function recordsOf(data: ReferenceCommandInput["data"]): Record<string, unknown>[] {
  if (!data.ndjson) return parseCsv(data.text);
  return data.text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      try {
        const v = JSON.parse(l) as { features?: Record<string, unknown> };
        return v.features ?? (v as Record<string, unknown>);
      } catch {
        throw new Error(`NDJSON line ${i + 1} is not JSON`);
      }
    });
}

/** Features from the data: numbers where every value parses as one, else categoricals by frequency. */
export function inferFeatures(records: readonly Record<string, unknown>[]): ManifestFeature[] {
  const names = Object.keys(records[0] ?? {}).filter((n) => !NOT_FEATURES.has(n));
  return names.map((name) => {
    const values = records
      .map((r) => r[name])
      .filter((v) => v !== "" && v !== null && v !== undefined);
    if (values.every((v) => Number.isFinite(Number(v)))) return { name, type: "number" as const };
    const counts = new Map<string, number>();
    for (const v of values) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
    const categories = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 1024)
      .map(([c]) => c);
    return { name, type: "categorical" as const, categories };
  });
}

/** The manifest with its reference; throws an Error naming what to fix. */
export async function buildManifestReference(input: ReferenceCommandInput): Promise<ModelManifest> {
  const records = recordsOf(input.data);
  if (records.length === 0) throw new Error("the data file has no rows");
  const session = await ort.InferenceSession.create(input.modelBytes);
  try {
    const given = input.manifest ?? {};
    const features = (given.features as ManifestFeature[] | undefined) ?? inferFeatures(records);
    const inputName = (given.input as string | undefined) ?? session.inputNames[0]!;
    const outputName =
      (given.output as { name?: string } | undefined)?.name ??
      (session.outputNames.includes("probability") ? "probability" : session.outputNames.at(-1)!);
    const rows: Record<string, number | string>[] = [];
    const encoded: number[][] = [];
    records.forEach((record, i) => {
      const values: Record<string, number | string | null> = {};
      for (const f of features) {
        const raw = record[f.name];
        values[f.name] =
          raw === "" || raw === undefined || raw === null
            ? null
            : f.type === "number"
              ? Number(raw)
              : String(raw);
      }
      const e = encodeFeatureRow(features, values);
      if (!e.ok) {
        throw new Error(
          `row ${i + 1}: ${e.issues.map((x) => `${x.field} ${x.message}`).join("; ")}`,
        );
      }
      encoded.push(e.values);
      rows.push(
        Object.fromEntries(
          features.map((f) => [f.name, values[f.name] ?? e.values[features.indexOf(f)]!]),
        ),
      );
    });
    let outputIndex = (given.output as { index?: number } | undefined)?.index;
    const scores: number[] = [];
    const width = features.length;
    for (let start = 0; start < encoded.length; start += BATCH_ROWS) {
      const batch = encoded.slice(start, start + BATCH_ROWS);
      const data = new Float32Array(batch.length * width);
      batch.forEach((x, i) => {
        data.set(x, i * width);
      });
      const out = await session.run({
        [inputName]: new ort.Tensor("float32", data, [batch.length, width]),
      });
      const tensor = out[outputName];
      if (tensor === undefined) throw new Error(`the model has no output "${outputName}"`);
      const columns = tensor.dims.length > 1 ? Number(tensor.dims[1]) : 1;
      outputIndex ??= columns === 2 ? 1 : 0;
      const values = tensor.data as Float32Array;
      for (let i = 0; i < batch.length; i++) scores.push(values[i * columns + outputIndex]!);
    }
    return parseModelManifest({
      ...given,
      input: inputName,
      output: { name: outputName, index: outputIndex ?? 0 },
      features,
      reference: buildReference(features, rows, scores, { seed: input.seed ?? 1 }),
    });
  } finally {
    await session.release();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      data: { type: "string" },
      manifest: { type: "string" },
      out: { type: "string" },
      seed: { type: "string" },
    },
  });
  if (values.model === undefined || values.data === undefined) {
    throw new Error(
      "usage: npm run models:reference -- --model model.onnx --data train.csv|train.ndjson [--manifest manifest.json] [--out manifest.json] [--seed 1]",
    );
  }
  const manifest = await buildManifestReference({
    modelBytes: readFileSync(values.model),
    data: {
      text: readFileSync(values.data, "utf8"),
      ndjson: /\.(nd)?jsonl?$|\.ndjson$/.test(values.data),
    },
    ...(values.manifest === undefined
      ? {}
      : { manifest: JSON.parse(readFileSync(values.manifest, "utf8")) as Record<string, unknown> }),
    ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
  });
  const out = values.out ?? join(dirname(values.model), "manifest.json");
  writeFileSync(out, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(
    `${out}: reference of ${manifest.reference?.rows} rows, ${manifest.features.length} features and the score`,
  );
}

if (process.argv[1]?.endsWith("reference-command.ts")) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
