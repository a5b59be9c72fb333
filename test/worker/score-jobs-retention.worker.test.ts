/**
 * Retention of bulk scoring jobs inside workerd: jobs of two tenants in the test database and
 * their chunk objects in miniflare's R2, the Worker's scheduled handler run as the cron trigger
 * would. Only finished jobs past SCORE_JOB_RETENTION_DAYS go, objects and rows; jobs still
 * queued or running are kept; another tenant's job with the very same id is untouched.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { purgeExpiredScoreJobs } from "../../src/score-jobs/purge-expired-score-jobs";
import { R2ScoreJobObjects } from "../../src/score-jobs/r2-score-job-objects";
import { scoreJobServices } from "../../src/score-jobs/score-job-services";
import worker from "../../src/worker";
import { sql } from "./read-db";
import { rawEnv, uniqueTenant } from "./support";

const DAY_MS = 86_400_000;
const bucket = rawEnv.JOBS as R2Bucket;
const objects = new R2ScoreJobObjects(bucket);

interface Job {
  tenant: string;
  id: string;
  status: "queued" | "running" | "succeeded" | "failed" | "partial";
  createdDaysAgo: number;
  finishedDaysAgo?: number;
  chunks: number;
}

/** The job's row, its chunk rows, and an input and a results object per chunk. */
async function arrange(job: Job, nowMs: number): Promise<void> {
  const at = (daysAgo: number | undefined) =>
    daysAgo === undefined ? null : new Date(nowMs - daysAgo * DAY_MS).toISOString();
  await sql(
    `INSERT INTO score_jobs (tenant_id, job_id, model, version, format, status, rows_total,
       chunks_total, created_at, finished_at)
     VALUES ($1, $2::uuid, 'demo', '1', 'csv', $3, $4, $5, $6::timestamptz, $7::timestamptz)`,
    [
      job.tenant,
      job.id,
      job.status,
      job.chunks * 10,
      job.chunks,
      at(job.createdDaysAgo),
      at(job.finishedDaysAgo),
    ],
  );
  await sql(
    `INSERT INTO score_job_chunks (tenant_id, job_id, chunk, first_row, rows)
     SELECT $1, $2::uuid, c, 1 + c * 10, 10 FROM generate_series(0, $3 - 1) AS c`,
    [job.tenant, job.id, job.chunks],
  );
  for (let c = 0; c < job.chunks; c++) {
    await objects.putInput(job.tenant, job.id, c, "entityId,sessions_7d\n");
    await objects.putResults(job.tenant, job.id, c, '{"row":1,"score":0.5}\n');
  }
}

async function state(job: Job): Promise<{ rows: number; chunkRows: number; objects: number }> {
  const [row] = await sql(
    `SELECT (SELECT count(*) FROM score_jobs WHERE tenant_id = $1 AND job_id = $2::uuid)::int AS rows,
       (SELECT count(*) FROM score_job_chunks WHERE tenant_id = $1 AND job_id = $2::uuid)::int AS chunk_rows`,
    [job.tenant, job.id],
  );
  let objects = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({
      prefix: `jobs/${encodeURIComponent(job.tenant)}/${job.id}/`,
      ...(cursor === undefined ? {} : { cursor }),
    });
    objects += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return { rows: Number(row?.rows), chunkRows: Number(row?.chunk_rows), objects };
}

/** The Worker's own job services on the test schema and miniflare's bucket. */
function jobServices() {
  return scoreJobServices({
    databaseUrl: String(rawEnv.DATABASE_URL),
    wsRelayUrl: String(rawEnv.NEON_WS_RELAY_URL),
    bucket,
    queue: undefined,
    maxRows: 1,
    chunkRows: 100,
  });
}

async function runCron(env: Record<string, unknown>, scheduledTime: number): Promise<void> {
  const controller = { scheduledTime, cron: "17 * * * *", noRetry: () => undefined };
  const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} };
  await (
    worker as unknown as {
      scheduled(c: ScheduledController, e: unknown, x: ExecutionContext): Promise<void>;
    }
  ).scheduled(
    controller as unknown as ScheduledController,
    env,
    ctx as unknown as ExecutionContext,
  );
}

describe("the cron trigger removes bulk scoring jobs past SCORE_JOB_RETENTION_DAYS", () => {
  const nowMs = Date.now();
  // A tenant id that must be encoded in the R2 key, and one that is a prefix of it.
  const a = `${uniqueTenant("ret")}/eu`;
  const b = a.slice(0, -3);
  const sharedId = crypto.randomUUID();
  const job = (
    tenant: string,
    status: Job["status"],
    created: number,
    finished?: number,
    chunks = 2,
  ): Job => ({
    tenant,
    id: crypto.randomUUID(),
    status,
    createdDaysAgo: created,
    ...(finished === undefined ? {} : { finishedDaysAgo: finished }),
    chunks,
  });
  const expired = {
    succeeded: { ...job(a, "succeeded", 45, 44), id: sharedId },
    // More than 1000 objects: the listing and the deletes go page by page.
    failed: job(a, "failed", 40, 31, 520),
    partial: job(a, "partial", 60, 59),
  };
  const kept = {
    recent: job(a, "succeeded", 5, 4),
    finishedJustInside: job(a, "partial", 40, 29),
    running: job(a, "running", 45),
    queued: job(a, "queued", 45),
    // Tenant B: the same job id as A's expired job, finished recently; and an old one of B's own.
    sameIdOtherTenant: { ...job(b, "succeeded", 2, 1), id: sharedId },
  };

  beforeAll(async () => {
    for (const j of [...Object.values(expired), ...Object.values(kept)]) await arrange(j, nowMs);
  }, 180_000);

  it("keeps everything while SCORE_JOB_RETENTION_DAYS is 0", async () => {
    await runCron({ ...rawEnv, SCORE_JOB_RETENTION_DAYS: "0" }, nowMs);
    for (const j of Object.values(expired)) {
      expect(await state(j)).toEqual({ rows: 1, chunkRows: j.chunks, objects: 2 * j.chunks });
    }
  });

  it("removes the expired finished jobs' objects and rows, and nothing else", async () => {
    await runCron({ ...rawEnv, SCORE_JOB_RETENTION_DAYS: "30" }, nowMs);
    for (const j of Object.values(expired)) {
      expect(await state(j), `${j.status} ${j.id}`).toEqual({ rows: 0, chunkRows: 0, objects: 0 });
    }
    for (const [name, j] of Object.entries(kept)) {
      expect(await state(j), name).toEqual({ rows: 1, chunkRows: j.chunks, objects: 2 * j.chunks });
    }
    const [running] = await sql(
      "SELECT status FROM score_jobs WHERE tenant_id = $1 AND job_id = $2::uuid",
      [kept.running.tenant, kept.running.id],
    );
    expect(running?.status).toBe("running");
  });

  it("drains a backlog oldest first, a bounded number of jobs per run, and warns about unfinished ones", async () => {
    const c = uniqueTenant("ret-backlog");
    const backlog = [50, 40, 70, 35, 60].map((d) => job(c, "succeeded", d + 1, d, 1));
    for (const j of backlog) await arrange(j, nowMs);
    const jobs = jobServices();
    const logged: Record<string, unknown>[] = [];
    const run = () =>
      purgeExpiredScoreJobs({
        jobs,
        retentionDays: 30,
        nowMs,
        maxJobs: 2,
        log: (e) => logged.push(e),
      });
    const left = async () =>
      (
        await Promise.all(
          backlog.map(async (j) => ((await state(j)).rows === 1 ? j.finishedDaysAgo : -1)),
        )
      )
        .filter((d) => d !== -1)
        .sort((x, y) => Number(x) - Number(y));

    expect(await run()).toEqual({ jobs: 2, objects: 4, failed: 0, unfinished: 2 });
    expect(await left()).toEqual([35, 40, 50]);
    expect(await run()).toEqual({ jobs: 2, objects: 4, failed: 0, unfinished: 2 });
    expect(await left()).toEqual([35]);
    expect(await run()).toEqual({ jobs: 1, objects: 2, failed: 0, unfinished: 2 });
    expect(await left()).toEqual([]);
    expect(await run()).toEqual({ jobs: 0, objects: 0, failed: 0, unfinished: 2 });

    const warning = logged.find(
      (e) => e.msg === "score jobs unfinished past their retention; kept",
    );
    expect(warning?.level).toBe("warn");
    expect(warning?.jobs).toEqual(
      expect.arrayContaining([
        { tenant: a, id: kept.running.id },
        { tenant: a, id: kept.queued.id },
      ]),
    );
  });

  it("skips a job whose objects cannot be removed, keeps its row, and removes the ones behind it", async () => {
    const d = uniqueTenant("ret-fail");
    const [stuck, next] = [job(d, "succeeded", 91, 90, 1), job(d, "failed", 81, 80, 1)];
    for (const j of [stuck, next]) await arrange(j, nowMs);
    const real = jobServices();
    // R2 failing for one job only (its delete refused), the database and R2 otherwise real.
    const objects = new Proxy(real.objects, {
      get: (target, property, receiver) =>
        property === "deleteJob"
          ? async (tenant: string, id: string) => {
              if (id === stuck.id) throw new Error("R2 delete refused");
              return target.deleteJob(tenant, id);
            }
          : Reflect.get(target, property, receiver),
    });
    const logged: Record<string, unknown>[] = [];
    const log = (e: Record<string, unknown>) => logged.push(e);
    const first = await purgeExpiredScoreJobs({
      jobs: { open: real.open, objects },
      retentionDays: 30,
      nowMs,
      log,
    });
    expect(first).toMatchObject({ jobs: 1, objects: 2, failed: 1 });
    expect(await state(stuck)).toEqual({ rows: 1, chunkRows: 1, objects: 2 });
    expect(await state(next)).toEqual({ rows: 0, chunkRows: 0, objects: 0 });
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: "warn",
        tenant: d,
        jobId: stuck.id,
        error: "R2 delete refused",
      }),
    );

    const second = await purgeExpiredScoreJobs({ jobs: real, retentionDays: 30, nowMs, log });
    expect(second).toMatchObject({ jobs: 1, objects: 2, failed: 0 });
    expect(await state(stuck)).toEqual({ rows: 0, chunkRows: 0, objects: 0 });
  });
});
