/** Retention of bulk scoring jobs: finished jobs past SCORE_JOB_RETENTION_DAYS go, objects then rows. */
import type { ScoreJobServices } from "./score-job-store";

/**
 * Jobs removed per run, oldest first: a run stays well inside a cron invocation's limits (each
 * job is a few R2 list and delete calls and one statement), and a backlog drains over runs.
 */
export const MAX_PURGED_JOBS_PER_RUN = 100;

/** Unfinished jobs named in the warning (the log line stays short; the count is in `unfinished`). */
const LISTED_UNFINISHED = 10;

const DAY_MS = 86_400_000;

export interface PurgeScoreJobsDeps {
  jobs: Pick<ScoreJobServices, "open" | "objects">;
  /** 0 keeps every job. */
  retentionDays: number;
  nowMs: number;
  maxJobs?: number;
  log: (entry: Record<string, unknown>) => void;
}

export interface PurgeScoreJobsResult {
  /** Jobs whose objects and rows were removed. */
  jobs: number;
  objects: number;
  /** Expired jobs this run could not remove (R2 or the database failing); the next run retries. */
  failed: number;
  /** Jobs still queued or running though created before the cutoff (kept, and warned about). */
  unfinished: number;
}

/**
 * A job's objects go first, then its row (its chunks cascade): a job whose removal fails half way
 * keeps its row, so the next run finds it again and finishes it. Jobs still queued or running
 * after the retention period are kept and logged as a warning rather than failed or deleted: a
 * job that never finished points at a fault (a consumer down, a lost message) an operator should
 * see, and its uploaded rows are what would let it be scored again.
 */
export async function purgeExpiredScoreJobs(
  deps: PurgeScoreJobsDeps,
): Promise<PurgeScoreJobsResult> {
  const result: PurgeScoreJobsResult = { jobs: 0, objects: 0, failed: 0, unfinished: 0 };
  if (deps.retentionDays === 0) return result;
  const cutoffMs = deps.nowMs - deps.retentionDays * DAY_MS;
  const limit = deps.maxJobs ?? MAX_PURGED_JOBS_PER_RUN;
  const store = deps.jobs.open();
  try {
    for (const job of await store.expiredJobs(cutoffMs, limit)) {
      // One job that cannot be removed must not hold back the others behind it (oldest first).
      try {
        result.objects += await deps.jobs.objects.deleteJob(job.tenant, job.id);
        await store.deleteJob(job.tenant, job.id);
        result.jobs += 1;
      } catch (error) {
        result.failed += 1;
        deps.log({
          level: "warn",
          msg: "score job past its retention not removed; retried at the next run",
          tenant: job.tenant,
          jobId: job.id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    const unfinished = await store.unfinishedJobs(cutoffMs, limit);
    result.unfinished = unfinished.length;
    if (unfinished.length > 0) {
      deps.log({
        level: "warn",
        msg: "score jobs unfinished past their retention; kept",
        retentionDays: deps.retentionDays,
        unfinished: unfinished.length,
        jobs: unfinished.slice(0, LISTED_UNFINISHED),
      });
    }
  } finally {
    await store.close().catch(() => undefined);
  }
  return result;
}
