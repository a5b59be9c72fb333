/** A bulk scoring job's result lines: stored as NDJSON in row order, rendered as CSV on request. */
import { csvField } from "./csv-record.ts";
import type { RowError } from "./job-rows.ts";

/** One row's result: a score, or the error that kept it from being scored. */
export type JobResult =
  | { row: number; entityId?: string; score: number }
  | { row: number; entityId?: string; error: { field: string; message: string } };

export function resultNdjsonLine(result: JobResult): string {
  return `${JSON.stringify(result)}\n`;
}

export const RESULT_CSV_HEADER = "row,entityId,score,errorField,error\n";

/** A stored NDJSON result line as a CSV line (columns of RESULT_CSV_HEADER). */
export function resultCsvLine(ndjsonLine: string): string {
  const r = JSON.parse(ndjsonLine) as JobResult;
  const id = r.entityId === undefined ? "" : csvField(r.entityId);
  if ("score" in r) return `${r.row},${id},${r.score},,\n`;
  return `${r.row},${id},,${csvField(r.error.field)},${csvField(r.error.message)}\n`;
}

/** The error entry of a row error (what GET /v1/score/jobs/{id} lists). */
export function errorResult(error: RowError, entityId?: string): JobResult {
  return {
    row: error.row,
    ...(entityId === undefined ? {} : { entityId }),
    error: { field: error.field, message: error.message },
  };
}
