/** Bulk scoring jobs: streamed record splitting, CSV and NDJSON rows, result lines, job states. */
export * from "./csv-record.ts";
export * from "./job-results.ts";
export * from "./job-rows.ts";
export * from "./job-status.ts";
export * from "./record-splitter.ts";
