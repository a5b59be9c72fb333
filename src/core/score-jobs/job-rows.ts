/** Records of a bulk scoring job (CSV rows with their header, NDJSON lines) → feature rows or per-row errors. */
import { ValidationError } from "../errors.ts";
import { encodeFeatureRow, type ManifestFeature } from "../model-manifest.ts";
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

/** One CSV record under its header: text to numbers for numeric features, empty cells absent. */
export function csvRow(
  header: readonly string[],
  record: string,
  row: number,
  features: readonly ManifestFeature[],
  types: ReadonlyMap<string, ManifestFeature["type"]>,
): JobRowOutcome {
  const fields = parseCsvRecord(record);
  if (!Array.isArray(fields)) return failed(row, "(row)", fields.error);
  const idColumn = header.indexOf(ENTITY_ID_COLUMN);
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
  const values: Record<string, unknown> = {};
  for (let c = 0; c < header.length; c++) {
    const name = header[c]!;
    const text = fields[c]!;
    if (c === idColumn) continue;
    const type = types.get(name);
    if (type === undefined || text === "") continue;
    if (type === "number") {
      const trimmed = text.trim();
      if (!NUMBER.test(trimmed)) return failed(row, name, "must be a number", entityId);
      values[name] = Number(trimmed);
    } else {
      values[name] = text;
    }
  }
  return encoded(row, entityId, values, features);
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
