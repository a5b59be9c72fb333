/** Records of a bulk scoring job (CSV rows with their header, NDJSON lines) → feature rows or per-row errors. */
import { ValidationError } from "../errors.ts";
import {
  encodeFeatureRow,
  type ManifestFeature,
  UNKNOWN_CATEGORY_INDEX,
} from "../model-manifest.ts";
import { parseCsvRecord } from "./csv-record.ts";

/** The column (CSV) or key (NDJSON) that carries a row's entity id. */
export const ENTITY_ID_COLUMN = "entityId";
const MAX_ENTITY_ID_CHARS = 256;

/** A per-row problem: the row's 1-based number in the file (header and blank lines not counted). */
export interface RowError {
  row: number;
  /** The column or feature at fault, `(row)` for the row as a whole. */
  field: string;
  message: string;
}

/** A row ready to score: its number, entity id and the model's encoded input. */
export interface EncodedJobRow {
  row: number;
  entityId?: string;
  values: number[];
}

export type JobRowOutcome =
  | { ok: true; row: EncodedJobRow }
  /** `entityId` when the row got as far as naming one, so its result line still carries it. */
  | { ok: false; error: RowError; entityId?: string };

/**
 * Checks a CSV header against the model: at least one column must name a feature (else the first
 * line is data, not a header), names must be unique and non-empty. Returns the column names.
 */
export function readCsvHeader(record: string, features: readonly ManifestFeature[]): string[] {
  const parsed = parseCsvRecord(record);
  const names = Array.isArray(parsed) ? parsed.map((n) => n.trim()) : [];
  const known = new Set(features.map((f) => f.name));
  const expected = features
    .slice(0, 5)
    .map((f) => f.name)
    .join(",");
  if (!names.some((n) => known.has(n))) {
    throw new ValidationError(
      `The first line must be a header row naming the columns (e.g. ${expected}${features.length > 5 ? ",…" : ""}, and optionally ${ENTITY_ID_COLUMN}); it names none of the model's features.`,
      [
        {
          field: "(header)",
          message: "missing header row: no column names a feature of the model",
        },
      ],
    );
  }
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (name === "") {
      throw new ValidationError(`Header column ${i + 1} has no name.`, [
        { field: "(header)", message: `column ${i + 1} has no name` },
      ]);
    }
    if (seen.has(name)) {
      throw new ValidationError(`The header names column "${name}" twice.`, [
        { field: "(header)", message: `column ${name} appears twice` },
      ]);
    }
    seen.add(name);
  }
  return names;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Encodes CSV records under one header: `(record, row) → outcome`. */
export type CsvRowEncoder = (record: string, row: number) => JobRowOutcome;

/**
 * Compiles the header against the manifest once per chunk, so each record goes straight from its
 * fields into the model's input order: text to a number for numeric features, a category's index
 * (−1 when unknown) for categorical ones, empty cells and absent columns taking the manifest
 * default. The same rules and messages as encodeFeatureRow (the unit tests compare the two),
 * without building an object per row: this runs for every row of a million-row job.
 */
export function csvRowEncoder(
  header: readonly string[],
  features: readonly ManifestFeature[],
): CsvRowEncoder {
  const idColumn = header.indexOf(ENTITY_ID_COLUMN);
  const slot = new Map(features.map((f, i) => [f.name, i]));
  /** Per header column: the feature index it fills, or −1 (ignored). */
  const target = header.map((name, c) => (c === idColumn ? -1 : (slot.get(name) ?? -1)));
  const categoryIndex = features.map((f) =>
    f.type === "number" ? undefined : new Map(f.categories.map((cat, i) => [cat, i])),
  );
  const defaults = features.map((f) => {
    if (f.default === undefined) return undefined;
    if (f.type === "number") return f.default as number;
    const index = f.categories.indexOf(f.default as string);
    return index === -1 ? UNKNOWN_CATEGORY_INDEX : index;
  });
  const columns = features.length;
  const filled = new Uint8Array(columns);
  return (record, row) => {
    const fields = parseCsvRecord(record);
    if (!Array.isArray(fields)) return failed(row, "(row)", fields.error);
    const idText = idColumn === -1 ? undefined : fields[idColumn];
    const entityId = idText === undefined || idText === "" ? undefined : idText;
    if (fields.length !== header.length) {
      return failed(
        row,
        "(row)",
        `has ${fields.length} fields; the header has ${header.length} columns`,
        entityId,
      );
    }
    if (entityId !== undefined && entityId.length > MAX_ENTITY_ID_CHARS) {
      return failed(row, ENTITY_ID_COLUMN, `is longer than ${MAX_ENTITY_ID_CHARS} characters`);
    }
    const values: number[] = new Array(columns);
    filled.fill(0);
    for (let c = 0; c < fields.length; c++) {
      const f = target[c]!;
      const text = fields[c]!;
      if (f === -1 || text === "") continue;
      const categories = categoryIndex[f];
      if (categories === undefined) {
        const trimmed = text.trim();
        if (!NUMBER.test(trimmed)) return failed(row, header[c]!, "must be a number", entityId);
        values[f] = Number(trimmed);
      } else {
        values[f] = categories.get(text) ?? UNKNOWN_CATEGORY_INDEX;
      }
      filled[f] = 1;
    }
    for (let f = 0; f < columns; f++) {
      if (filled[f] === 1) continue;
      const fallback = defaults[f];
      if (fallback === undefined) {
        return failed(
          row,
          features[f]!.name,
          "is missing and the model has no default for it",
          entityId,
        );
      }
      values[f] = fallback;
    }
    return {
      ok: true,
      row: { row, ...(entityId === undefined ? {} : { entityId }), values },
    };
  };
}

/** One CSV record under its header (see csvRowEncoder; compile once for many records). */
export function csvRow(
  header: readonly string[],
  record: string,
  row: number,
  features: readonly ManifestFeature[],
): JobRowOutcome {
  return csvRowEncoder(header, features)(record, row);
}

/** One NDJSON line: `{ "entityId"?, "features": {…} }` or a flat object of features (and entityId). */
export function ndjsonRow(
  line: string,
  row: number,
  features: readonly ManifestFeature[],
): JobRowOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return failed(row, "(row)", "is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return failed(row, "(row)", "must be a JSON object");
  }
  const object = parsed as Record<string, unknown>;
  const rawId = object[ENTITY_ID_COLUMN];
  if (rawId !== undefined && rawId !== null && typeof rawId !== "string") {
    return failed(row, ENTITY_ID_COLUMN, "must be a string");
  }
  const entityId = typeof rawId === "string" && rawId !== "" ? rawId : undefined;
  let values: Record<string, unknown>;
  if (Object.hasOwn(object, "features")) {
    const f = object.features;
    if (typeof f !== "object" || f === null || Array.isArray(f)) {
      return failed(row, "features", "must be an object of feature values", entityId);
    }
    values = f as Record<string, unknown>;
  } else {
    values = object;
  }
  return encoded(row, entityId, values, features);
}

function encoded(
  row: number,
  entityId: string | undefined,
  values: Record<string, unknown>,
  features: readonly ManifestFeature[],
): JobRowOutcome {
  if (entityId !== undefined && entityId.length > MAX_ENTITY_ID_CHARS) {
    return failed(row, ENTITY_ID_COLUMN, `is longer than ${MAX_ENTITY_ID_CHARS} characters`);
  }
  const result = encodeFeatureRow(features, values, "");
  if (!result.ok) {
    const issue = result.issues[0]!;
    // encodeFeatureRow names `<prefix>.<feature>`; the prefix is empty here.
    return failed(row, issue.field.replace(/^\./, ""), issue.message, entityId);
  }
  return {
    ok: true,
    row: { row, ...(entityId === undefined ? {} : { entityId }), values: result.values },
  };
}

function failed(row: number, field: string, message: string, entityId?: string): JobRowOutcome {
  return {
    ok: false,
    error: { row, field, message },
    ...(entityId === undefined ? {} : { entityId }),
  };
}
