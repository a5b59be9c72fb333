/** The upload verb of a bulk scoring job: stream the body into chunk objects, record the job, queue its chunks. */
import { DriftlineError, ValidationError } from "#core/errors";
import { type JobFormat, RecordSplitter, readCsvHeader } from "#core/score-jobs";
import type { ModelRegistry } from "../model-registry/model-registry";
import type { ScoreJob, ScoreJobChunk, ScoreJobServices } from "./score-job-store";

/** Longest row accepted, characters: a never-closed quote fails here, not after megabytes. */
export const MAX_RECORD_CHARS = 256 * 1024;
/** A chunk object is cut at this many characters even below SCORE_JOB_CHUNK_ROWS rows. */
const MAX_CHUNK_CHARS = 4 * 1024 * 1024;

export interface ReceiveScoreJobDeps {
  jobs: ScoreJobServices;
  models: Pick<ModelRegistry, "requireActive" | "serving">;
  now(): Date;
  /** Charges the rows to the key's events budget (429 when used up), once they are counted. */
  chargeRows(rows: number): Promise<void>;
  /** Work that may finish after the response (removing the objects of a refused upload). */
  waitUntil(work: Promise<unknown>): void;
}

export interface ReceiveScoreJobInput {
  tenant: string;
  model: string;
  version?: string | undefined;
  format: JobFormat;
  body: ReadableStream<Uint8Array> | null;
}

/**
 * Reads the body as it arrives, never whole: records are cut into chunks of `chunkRows` rows,
 * each written to R2 while the next is read (one write in flight). A file that breaks a rule
 * (no header, too many rows, a row too long) is refused with a 4xx and its chunks are removed;
 * rows whose values are wrong are scored later as per-row errors, not refused here.
 */
export async function receiveScoreJob(
  deps: ReceiveScoreJobDeps,
  input: ReceiveScoreJobInput,
): Promise<ScoreJob> {
  const { jobs } = deps;
  const { tenant, model, format } = input;
  const version = input.version ?? (await deps.models.requireActive(tenant, model)).champion;
  const serving = await deps.models.serving(tenant, model, version);
  const features = serving.manifest.features;
  if (input.body === null) throw emptyFile();

  const id = crypto.randomUUID();
  const createdAtMs = deps.now().getTime();
  const chunks: ScoreJobChunk[] = [];
  let pendingWrite: Promise<void> = Promise.resolve();
  let header: string | undefined;
  let records: string[] = [];
  let chars = 0;
  let rows = 0;

  const flush = async () => {
    if (records.length === 0) return;
    const chunk: ScoreJobChunk = {
      chunk: chunks.length,
      firstRow: rows - records.length + 1,
      rows: records.length,
    };
    chunks.push(chunk);
    const text = (header === undefined ? "" : `${header}\n`) + records.join("\n");
    records = [];
    chars = 0;
    await pendingWrite;
    const write = jobs.objects.putInput(tenant, id, chunk.chunk, text);
    // Awaited by the next flush or at the end; until then a failure must not count as unhandled.
    write.catch(() => undefined);
    pendingWrite = write;
  };

  const take = async (batch: string[]) => {
    for (const record of batch) {
      if (format === "csv" && header === undefined) {
        readCsvHeader(record, features);
        header = record;
        continue;
      }
      rows += 1;
      if (rows > jobs.maxRows) throw tooManyRows(jobs.maxRows);
      records.push(record);
      chars += record.length;
      if (records.length >= jobs.chunkRows || chars >= MAX_CHUNK_CHARS) await flush();
    }
  };

  const splitter = new RecordSplitter(format, MAX_RECORD_CHARS);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const reader = input.body.getReader();
  try {
    try {
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        await take(splitter.push(decode(decoder, next.value, true), rows + 1));
      }
      await take(splitter.push(decode(decoder, undefined, false), rows + 1));
      await take(splitter.end(rows + 1));
      await flush();
      await pendingWrite;
    } finally {
      reader.releaseLock();
    }
    if (format === "csv" && header === undefined) {
      throw new ValidationError("The file is empty: send a header row and at least one row.", [
        { field: "(body)", message: "is empty" },
      ]);
    }
    if (rows === 0) throw emptyFile();
    await deps.chargeRows(rows);
    const store = jobs.open();
    try {
      await store.createJob({
        tenant,
        id,
        model,
        version,
        format,
        rowsTotal: rows,
        createdAtMs,
        chunks,
      });
      try {
        await jobs.queue.sendChunks(chunks.map((c) => ({ tenant, jobId: id, chunk: c.chunk })));
      } catch (error) {
        // Not queued, not kept: a job that would never run must not be listed as queued.
        await store.deleteJob(tenant, id).catch(() => undefined);
        throw error;
      }
      const job = await store.getJob(tenant, id);
      if (job === undefined) throw new DriftlineError("INTERNAL", "The job was not recorded.");
      return job;
    } finally {
      deps.waitUntil(store.close().catch(() => undefined));
    }
  } catch (error) {
    await pendingWrite.catch(() => undefined);
    deps.waitUntil(jobs.objects.deleteJob(tenant, id).catch(() => undefined));
    throw error;
  }
}

function decode(decoder: TextDecoder, bytes: Uint8Array | undefined, stream: boolean): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch {
    throw new ValidationError("The file is not valid UTF-8 text; save it as UTF-8.", [
      { field: "(body)", message: "is not UTF-8" },
    ]);
  }
}

function emptyFile(): ValidationError {
  return new ValidationError("The file holds no rows to score.", [
    { field: "(body)", message: "has no rows" },
  ]);
}

function tooManyRows(maxRows: number): DriftlineError {
  return new DriftlineError(
    "PAYLOAD_TOO_LARGE",
    `A job scores at most ${maxRows} rows; this file has more. Split it into several jobs.`,
    { context: { maxRows } },
  );
}
