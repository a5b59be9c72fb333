/** The ScoreJobStore port: bulk scoring jobs and their chunks, every method scoped by tenant. */
import type { JobFormat, RowError, ScoreJobStatus } from "#core/score-jobs";
import type { TimeKey } from "../read-api/read-store";

export interface ScoreJobChunk {
  chunk: number;
  /** 1-based number of the chunk's first row in the uploaded file. */
  firstRow: number;
  rows: number;
}

export interface NewScoreJob {
  tenant: string;
  id: string;
  model: string;
  version: string;
  format: JobFormat;
  rowsTotal: number;
  createdAtMs: number;
  chunks: readonly ScoreJobChunk[];
}

export interface ScoreJob {
  key: TimeKey;
  tenant: string;
  id: string;
  model: string;
  version: string;
  format: JobFormat;
  status: ScoreJobStatus;
  rowsTotal: number;
  rowsDone: number;
  chunksTotal: number;
  chunksDone: number;
  scored: number;
  failed: number;
  createdAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
}

export interface ScoreJobQuery {
  tenant: string;
  /** Newest first: the page starts below this key. */
  before?: TimeKey;
  /** A store returns up to limit + 1 rows so the caller can tell there is more. */
  limit: number;
}

/** A job named by its tenant and id. */
export interface ScoreJobRef {
  tenant: string;
  id: string;
}

/** What scoring one chunk found, added to its job once. */
export interface ChunkOutcome {
  tenant: string;
  jobId: string;
  chunk: number;
  scored: number;
  failed: number;
  /** The chunk's first errors in row order (bounded by the caller). */
  errors: readonly RowError[];
}

export interface ScoreJobStore {
  /** Inserts the job (status queued) and its chunks in one transaction. */
  createJob(job: NewScoreJob): Promise<void>;
  /** Deletes a job that could not be queued (its chunks go with it). */
  deleteJob(tenant: string, id: string): Promise<void>;
  getJob(tenant: string, id: string): Promise<ScoreJob | undefined>;
  listJobs(q: ScoreJobQuery): Promise<ScoreJob[]>;
  /** The job's first `limit` row errors, in row order. */
  rowErrors(tenant: string, id: string, limit: number): Promise<RowError[]>;
  /** The job, marked running (and its start time set) when it was queued; undefined if unknown. */
  startJob(tenant: string, id: string): Promise<ScoreJob | undefined>;
  /** The chunk to score, or undefined when it is unknown or already done (a redelivery). */
  pendingChunk(tenant: string, jobId: string, chunk: number): Promise<ScoreJobChunk | undefined>;
  /**
   * Marks the chunk done and adds its counts to the job, in one statement; a chunk already done
   * adds nothing (false), so a redelivered message never counts twice.
   */
  completeChunk(outcome: ChunkOutcome): Promise<boolean>;
  /**
   * Retention, across tenants (the one unscoped read, for the Worker's cron trigger only): up to
   * `limit` jobs finished (succeeded, failed or partial) before `finishedBeforeMs`, oldest first.
   */
  expiredJobs(finishedBeforeMs: number, limit: number): Promise<ScoreJobRef[]>;
  /** Retention, across tenants: up to `limit` jobs still queued or running, created before `createdBeforeMs`. */
  unfinishedJobs(createdBeforeMs: number, limit: number): Promise<ScoreJobRef[]>;
  close(): Promise<void>;
}

/** What the services bundle holds for bulk scoring jobs. */
export interface ScoreJobServices {
  open(): ScoreJobStore;
  /** Chunk objects (uploaded rows and results). */
  objects: ScoreJobObjects;
  /** One message per chunk to score. */
  queue: ScoreJobQueue;
  /** Most rows one job may hold (SCORE_JOB_MAX_ROWS). */
  maxRows: number;
  /** Rows per chunk (SCORE_JOB_CHUNK_ROWS). */
  chunkRows: number;
}

/** Where a job's chunk objects live (R2). */
export interface ScoreJobObjects {
  putInput(tenant: string, jobId: string, chunk: number, text: string): Promise<void>;
  getInput(tenant: string, jobId: string, chunk: number): Promise<string | undefined>;
  putResults(tenant: string, jobId: string, chunk: number, ndjson: string): Promise<void>;
  /** A chunk's NDJSON result lines as a stream, or undefined when absent. */
  getResults(
    tenant: string,
    jobId: string,
    chunk: number,
  ): Promise<ReadableStream<Uint8Array> | undefined>;
  /**
   * Removes every object of the job (an upload refused half way, a job past its retention),
   * found by listing its prefix; resolves to the number of objects removed.
   */
  deleteJob(tenant: string, jobId: string): Promise<number>;
}

export interface ScoreJobQueue {
  sendChunks(messages: readonly { tenant: string; jobId: string; chunk: number }[]): Promise<void>;
}
