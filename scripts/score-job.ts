/**
 * A bulk scoring job from a file: uploads it (streamed) to POST /v1/score/jobs, polls the job
 * until it is done, and downloads the results (streamed) to a file.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { extname } from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

export type ScoreJobFormat = "csv" | "ndjson";

/** What GET /v1/score/jobs/{id} answers (the fields this client reads). */
export interface ScoreJobState {
  id: string;
  model: string;
  version: string;
  status: "queued" | "running" | "succeeded" | "failed" | "partial";
  rowsReceived: number;
  progress: { rowsDone: number; rowsTotal: number; chunksDone: number; chunksTotal: number };
  counts: { scored: number; failed: number };
  errors: { row: number; field: string; message: string }[];
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface RunScoreJobOptions {
  /** The Worker, e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  /** An API key with the `score` role. */
  key: string;
  model: string;
  version?: string;
  /** The CSV (header row first) or NDJSON file. */
  file: string;
  /** Default: by the file's extension (.csv, else NDJSON for .ndjson/.jsonl). */
  format?: ScoreJobFormat;
  /** Where the results go; default `<file>.scores.csv` (or `.ndjson`). Undefined: not downloaded. */
  output?: string | null;
  /** Results format; default the upload's. */
  resultsFormat?: ScoreJobFormat;
  /** Called after the upload and after every poll. */
  onProgress?: (job: ScoreJobState) => void;
  /** Time between polls, ms (default 1000). */
  pollMs?: number;
  fetch?: typeof fetch;
}

export interface ScoreJobRun {
  job: ScoreJobState;
  /** Where the results were written, when they were downloaded. */
  output?: string;
}

const FINISHED = new Set(["succeeded", "partial", "failed"]);
const MEDIA_TYPES: Record<ScoreJobFormat, string> = {
  csv: "text/csv",
  ndjson: "application/x-ndjson",
};

/** The format a file's extension suggests. */
export function formatOfFile(file: string): ScoreJobFormat {
  return extname(file).toLowerCase() === ".csv" ? "csv" : "ndjson";
}

export async function runScoreJob(options: RunScoreJobOptions): Promise<ScoreJobRun> {
  const http = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/+$/, "");
  const format = options.format ?? formatOfFile(options.file);
  const auth = { authorization: `Bearer ${options.key}` };
  const query = new URLSearchParams({ model: options.model });
  if (options.version !== undefined) query.set("version", options.version);

  const created = await http(`${base}/v1/score/jobs?${query}`, {
    method: "POST",
    headers: { ...auth, "content-type": MEDIA_TYPES[format] },
    body: Readable.toWeb(createReadStream(options.file)) as ReadableStream<Uint8Array>,
    duplex: "half",
  } as RequestInit);
  let job = await answer<ScoreJobState>(created, "uploading the file");
  options.onProgress?.(job);
  const location = `${base}/v1/score/jobs/${encodeURIComponent(job.id)}`;
  while (!FINISHED.has(job.status)) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1_000));
    job = await answer<ScoreJobState>(await http(location, { headers: auth }), "reading the job");
    options.onProgress?.(job);
  }
  if (options.output === null) return { job };
  const resultsFormat = options.resultsFormat ?? format;
  const output = options.output ?? `${options.file}.scores.${resultsFormat}`;
  const results = await http(`${location}/results`, {
    headers: { ...auth, accept: MEDIA_TYPES[resultsFormat] },
  });
  if (!results.ok || results.body === null) await answer(results, "downloading the results");
  await pipeline(
    Readable.fromWeb(results.body as import("node:stream/web").ReadableStream<Uint8Array>),
    createWriteStream(output) as Writable,
  );
  return { job, output };
}

/** The JSON of a 2xx answer; otherwise an Error carrying the API's message. */
async function answer<T>(res: Response, doing: string): Promise<T> {
  const text = await res.text();
  if (res.ok) return JSON.parse(text) as T;
  let message = text;
  try {
    message = (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    // Not the API's error body (a proxy's page, say): show it as it came.
  }
  throw new Error(`${doing} failed (${res.status}): ${message}`);
}
