/** ScoreJobStore on Postgres through the Neon serverless driver: a Pool per request (or queue batch). */
import type { Pool, PoolClient } from "@neondatabase/serverless";
import { DependencyUnavailableError } from "#core/errors";
import type { JobFormat, RowError, ScoreJobStatus } from "#core/score-jobs";
import { createRequestPool, type NeonReadStoreOptions } from "../read-api/neon-read-store";
import type {
  ChunkOutcome,
  NewScoreJob,
  ScoreJob,
  ScoreJobChunk,
  ScoreJobQuery,
  ScoreJobRef,
  ScoreJobStore,
} from "./score-job-store";

type Row = Record<string, unknown>;

const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;
const TS_US = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;
const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;
const US = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::bigint::text`;

const JOB_COLUMNS = `${US("created_at")} AS at_us, job_id::text AS id, tenant_id, model, version,
  format, status, rows_total, rows_done, chunks_total, chunks_done, rows_scored, rows_failed,
  ${MS("created_at")} AS created_ms, ${MS("started_at")} AS started_ms,
  ${MS("finished_at")} AS finished_ms`;

/** Job ids are uuids; anything else names no job (and must not reach a uuid cast). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class NeonScoreJobStore implements ScoreJobStore {
  private readonly pool: Pool;

  constructor(options: NeonReadStoreOptions) {
    this.pool = createRequestPool(options);
  }

  async createJob(job: NewScoreJob): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    try {
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO score_jobs (tenant_id, job_id, model, version, format, status, rows_total,
           chunks_total, created_at)
         VALUES ($1, $2::uuid, $3, $4, $5, 'queued', $6, $7, ${TS("$8")})`,
        [
          job.tenant,
          job.id,
          job.model,
          job.version,
          job.format,
          job.rowsTotal,
          job.chunks.length,
          String(job.createdAtMs),
        ],
      );
      if (job.chunks.length > 0) {
        await client.query(
          `INSERT INTO score_job_chunks (tenant_id, job_id, chunk, first_row, rows)
           SELECT $1, $2::uuid, c, f, r FROM unnest($3::int[], $4::int[], $5::int[]) AS t(c, f, r)`,
          [
            job.tenant,
            job.id,
            job.chunks.map((c) => c.chunk),
            job.chunks.map((c) => c.firstRow),
            job.chunks.map((c) => c.rows),
          ],
        );
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw unavailable(error);
    } finally {
      client.release();
    }
  }

  async deleteJob(tenant: string, id: string): Promise<void> {
    if (!UUID.test(id)) return;
    await this.rows("DELETE FROM score_jobs WHERE tenant_id = $1 AND job_id = $2::uuid", [
      tenant,
      id,
    ]);
  }

  async getJob(tenant: string, id: string): Promise<ScoreJob | undefined> {
    if (!UUID.test(id)) return undefined;
    const rows = await this.rows(
      `SELECT ${JOB_COLUMNS} FROM score_jobs WHERE tenant_id = $1 AND job_id = $2::uuid`,
      [tenant, id],
    );
    return rows[0] === undefined ? undefined : jobOf(rows[0]);
  }

  async startJob(tenant: string, id: string): Promise<ScoreJob | undefined> {
    if (!UUID.test(id)) return undefined;
    const rows = await this.rows(
      `UPDATE score_jobs SET started_at = coalesce(started_at, clock_timestamp()),
         status = CASE WHEN status = 'queued' THEN 'running' ELSE status END
       WHERE tenant_id = $1 AND job_id = $2::uuid
       RETURNING ${JOB_COLUMNS}`,
      [tenant, id],
    );
    return rows[0] === undefined ? undefined : jobOf(rows[0]);
  }

  async listJobs(q: ScoreJobQuery): Promise<ScoreJob[]> {
    const rows = await this.rows(
      `SELECT ${JOB_COLUMNS} FROM score_jobs
       WHERE tenant_id = $1
         AND ($2::bigint IS NULL OR (created_at, job_id) < (${TS_US("$2")}, $3::uuid))
       ORDER BY created_at DESC, job_id DESC
       LIMIT ${q.limit + 1}`,
      [q.tenant, q.before?.atUs ?? null, q.before === undefined ? null : validUuid(q.before.id)],
    );
    return rows.map(jobOf);
  }

  async rowErrors(tenant: string, id: string, limit: number): Promise<RowError[]> {
    if (!UUID.test(id)) return [];
    const rows = await this.rows(
      `SELECT e.value AS error FROM score_job_chunks c
         CROSS JOIN LATERAL jsonb_array_elements(c.errors) WITH ORDINALITY AS e(value, n)
       WHERE c.tenant_id = $1 AND c.job_id = $2::uuid AND c.status = 'done'
       ORDER BY c.chunk, e.n
       LIMIT ${limit}`,
      [tenant, id],
    );
    return rows.map((r) => r.error as RowError);
  }

  async pendingChunk(
    tenant: string,
    jobId: string,
    chunk: number,
  ): Promise<ScoreJobChunk | undefined> {
    if (!UUID.test(jobId)) return undefined;
    const rows = await this.rows(
      `SELECT chunk, first_row, rows FROM score_job_chunks
       WHERE tenant_id = $1 AND job_id = $2::uuid AND chunk = $3 AND status = 'queued'`,
      [tenant, jobId, chunk],
    );
    const r = rows[0];
    return r === undefined
      ? undefined
      : { chunk: Number(r.chunk), firstRow: Number(r.first_row), rows: Number(r.rows) };
  }

  async completeChunk(o: ChunkOutcome): Promise<boolean> {
    if (!UUID.test(o.jobId)) return false;
    // One statement: the chunk's move to done and the job's counts commit together, and a
    // chunk already done matches nothing in `c`, so the job is not touched again.
    const rows = await this.rows(
      `WITH c AS (
         UPDATE score_job_chunks SET status = 'done', scored = $4, failed = $5,
           errors = $6::jsonb, done_at = clock_timestamp()
         WHERE tenant_id = $1 AND job_id = $2::uuid AND chunk = $3 AND status = 'queued'
         RETURNING rows
       )
       UPDATE score_jobs j SET
         rows_done = j.rows_done + c.rows,
         chunks_done = j.chunks_done + 1,
         rows_scored = j.rows_scored + $4,
         rows_failed = j.rows_failed + $5,
         status = CASE
           WHEN j.chunks_done + 1 < j.chunks_total THEN 'running'
           WHEN j.rows_failed + $5 = 0 THEN 'succeeded'
           WHEN j.rows_scored + $4 = 0 THEN 'failed'
           ELSE 'partial' END,
         finished_at = CASE WHEN j.chunks_done + 1 = j.chunks_total THEN clock_timestamp() END
       FROM c
       WHERE j.tenant_id = $1 AND j.job_id = $2::uuid
       RETURNING j.job_id`,
      [o.tenant, o.jobId, o.chunk, o.scored, o.failed, JSON.stringify(o.errors)],
    );
    return rows.length > 0;
  }

  async expiredJobs(finishedBeforeMs: number, limit: number): Promise<ScoreJobRef[]> {
    const rows = await this.rows(
      `SELECT tenant_id, job_id::text AS id FROM score_jobs
       WHERE status IN ('succeeded', 'failed', 'partial') AND finished_at < ${TS("$1")}
       ORDER BY finished_at, tenant_id, job_id
       LIMIT $2`,
      [String(finishedBeforeMs), limit],
    );
    return rows.map(refOf);
  }

  async unfinishedJobs(createdBeforeMs: number, limit: number): Promise<ScoreJobRef[]> {
    const rows = await this.rows(
      `SELECT tenant_id, job_id::text AS id FROM score_jobs
       WHERE status IN ('queued', 'running') AND created_at < ${TS("$1")}
       ORDER BY created_at, tenant_id, job_id
       LIMIT $2`,
      [String(createdBeforeMs), limit],
    );
    return rows.map(refOf);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw unavailable(error);
    }
  }
}

/** A cursor's id that is not a uuid matches nothing rather than failing the cast. */
function validUuid(id: string): string {
  return UUID.test(id) ? id : "00000000-0000-0000-0000-000000000000";
}

function unavailable(error: unknown): DependencyUnavailableError {
  if (error instanceof DependencyUnavailableError) return error;
  return new DependencyUnavailableError(
    `The score job database is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
    { cause: error },
  );
}

const optionalMs = (value: unknown) => (value === null || value === undefined ? {} : undefined);

const refOf = (r: Row): ScoreJobRef => ({ tenant: String(r.tenant_id), id: String(r.id) });

function jobOf(r: Row): ScoreJob {
  const started = optionalMs(r.started_ms) ?? { startedAtMs: Number(r.started_ms) };
  const finished = optionalMs(r.finished_ms) ?? { finishedAtMs: Number(r.finished_ms) };
  return {
    key: { atUs: String(r.at_us), id: String(r.id) },
    tenant: String(r.tenant_id),
    id: String(r.id),
    model: String(r.model),
    version: String(r.version),
    format: String(r.format) as JobFormat,
    status: String(r.status) as ScoreJobStatus,
    rowsTotal: Number(r.rows_total),
    rowsDone: Number(r.rows_done),
    chunksTotal: Number(r.chunks_total),
    chunksDone: Number(r.chunks_done),
    scored: Number(r.rows_scored),
    failed: Number(r.rows_failed),
    createdAtMs: Number(r.created_ms),
    ...started,
    ...finished,
  };
}
