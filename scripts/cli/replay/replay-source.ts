/**
 * The records of a replay file (NDJSON, or CSV with a header row), each with where it ends in the
 * file, so a replay can record the last acknowledged byte offset and resume from it.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { parse } from "csv-parse";
import { jsonSyntaxProblem } from "#core/text";

export type ReplayFormat = "ndjson" | "csv";

export interface ReplayRecord {
  /** 1-based line (NDJSON) or data row (CSV, header not counted) of the file. */
  line: number;
  /** Byte offset just past the record: where a resume starts reading. */
  endOffset: number;
  /** The event, or why the record is not one (sent nowhere, counted as rejected). */
  event?: unknown;
  problem?: string;
}

export interface ReadFrom {
  /** Byte offset to start at (0, or a progress file's offset). */
  offset: number;
  /** Records before `offset` (their count, so line numbers stay the file's). */
  line: number;
}

/** The format a file name implies: `.csv` is CSV, everything else NDJSON. */
export function formatOf(file: string): ReplayFormat {
  return /\.csv$/i.test(file) ? "csv" : "ndjson";
}

export function readReplayRecords(
  file: string,
  format: ReplayFormat,
  from: ReadFrom = { offset: 0, line: 0 },
): AsyncGenerator<ReplayRecord> {
  return format === "csv" ? readCsv(file, from) : readNdjson(file, from);
}

const NEWLINE = 0x0a;

async function* readNdjson(file: string, from: ReadFrom): AsyncGenerator<ReplayRecord> {
  // Lines are split on the bytes, not with readline, so every offset is exact (CRLF included).
  let offset = from.offset;
  let line = from.line;
  let pending: Buffer = Buffer.alloc(0);
  const toRecord = (bytes: Buffer, endOffset: number): ReplayRecord | undefined => {
    line += 1;
    const text = bytes.toString("utf8").trim();
    if (text === "") return undefined;
    try {
      return { line, endOffset, event: JSON.parse(text) };
    } catch (error) {
      // Only where the syntax breaks: the line may hold personal data, and the summary and the
      // progress file must not repeat it.
      return { line, endOffset, problem: `not JSON: ${jsonSyntaxProblem(error)}` };
    }
  };
  for await (const chunk of createReadStream(file, { start: from.offset })) {
    let data = pending.length > 0 ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    let newline = data.indexOf(NEWLINE);
    while (newline >= 0) {
      offset += newline + 1;
      const record = toRecord(data.subarray(0, newline), offset);
      if (record) yield record;
      data = data.subarray(newline + 1);
      newline = data.indexOf(NEWLINE);
    }
    pending = Buffer.from(data);
  }
  if (pending.length > 0) {
    const record = toRecord(pending, offset + pending.length);
    if (record) yield record;
  }
}

/** The header row of a CSV file (its first line). */
async function csvHeader(file: string): Promise<{ columns: string[]; endOffset: number }> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const end = buffer.subarray(0, bytesRead).indexOf(NEWLINE);
    const headerBytes = buffer.subarray(0, end < 0 ? bytesRead : end + 1);
    const [columns] = await parseAll(headerBytes.toString("utf8"));
    if (!columns || columns.length === 0) throw new Error(`${file} has no CSV header row`);
    return { columns, endOffset: headerBytes.length };
  } finally {
    await handle.close();
  }
}

function parseAll(text: string): Promise<string[][]> {
  return new Promise((resolve, reject) =>
    parse(text, { bom: true, trim: true }, (error, rows: string[][]) =>
      error ? reject(error) : resolve(rows),
    ),
  );
}

async function* readCsv(file: string, from: ReadFrom): AsyncGenerator<ReplayRecord> {
  const header = await csvHeader(file);
  const start = Math.max(from.offset, header.endOffset);
  const parser = createReadStream(file, { start }).pipe(
    parse({ columns: header.columns, info: true, skip_empty_lines: true, trim: true }),
  );
  let line = from.line;
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { bytes: number };
  }>) {
    line += 1;
    yield { line, endOffset: start + info.bytes, event: eventFromCsvRow(record) };
  }
}

const NUMERIC_COLUMNS = new Set([
  "event_time",
  "data_processing_options_country",
  "data_processing_options_state",
]);

/**
 * A CSV row as an event: `a.b` columns nest (`user_data.em` → `user_data: { em }`), empty cells
 * are left out, `true`/`false` are booleans, a cell holding a JSON array or object is parsed, and
 * digits in event_time and data_processing_options_* are numbers. Everything else stays text.
 */
export function eventFromCsvRow(row: Record<string, string>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [column, raw] of Object.entries(row)) {
    if (raw === "") continue;
    let value: unknown = raw;
    if (raw === "true" || raw === "false") value = raw === "true";
    else if (/^[[{]/.test(raw)) {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    } else if (NUMERIC_COLUMNS.has(column) && /^\d+(\.\d+)?$/.test(raw)) value = Number(raw);
    const path = column.split(".");
    let target = event;
    for (const part of path.slice(0, -1)) {
      const next = target[part];
      if (typeof next !== "object" || next === null || Array.isArray(next)) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[path[path.length - 1]!] = value;
  }
  return event;
}
