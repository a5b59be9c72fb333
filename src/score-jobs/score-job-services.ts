/** Builds the ScoreJobServices from the Worker's configuration: Neon when DATABASE_URL is set. */
import { DependencyUnavailableError } from "#core/errors";
import type { ScoreJobMessage } from "#core/score-jobs";
import { NeonScoreJobStore } from "./neon-score-job-store";
import { QueueScoreJobQueue } from "./queue-score-job-queue";
import { R2ScoreJobObjects } from "./r2-score-job-objects";
import type { ScoreJobServices } from "./score-job-store";

export interface ScoreJobSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
  bucket: R2Bucket | undefined;
  queue: Queue | undefined;
  maxRows: number;
  chunkRows: number;
}

/**
 * Job state lives in Postgres (the read API's database): it outlives the Worker, lists per tenant
 * with a cursor, and a chunk's completion and the job's counts change in one statement, which R2
 * (no atomic read-modify-write across objects) could not give. Rows and results live in R2.
 */
export function scoreJobServices(settings: ScoreJobSettings): ScoreJobServices {
  const { databaseUrl, wsRelayUrl, bucket, queue } = settings;
  const missing = (what: string) =>
    new DependencyUnavailableError(`Bulk scoring jobs are not configured: ${what}.`, {
      retryable: false,
    });
  return {
    maxRows: settings.maxRows,
    chunkRows: settings.chunkRows,
    open: () => {
      if (databaseUrl === undefined) {
        throw missing(
          "set the DATABASE_URL secret (wrangler secret put DATABASE_URL, or .dev.vars) to the Postgres the stream processor writes",
        );
      }
      return new NeonScoreJobStore({
        databaseUrl,
        ...(wsRelayUrl === undefined ? {} : { wsRelayUrl }),
      });
    },
    objects:
      bucket === undefined
        ? unconfigured(() => missing("declare the JOBS R2 bucket in wrangler.toml"))
        : new R2ScoreJobObjects(bucket),
    queue:
      queue === undefined
        ? unconfigured(() => missing("declare the SCORE_JOBS_QUEUE producer in wrangler.toml"))
        : new QueueScoreJobQueue(queue as Queue<ScoreJobMessage>),
  };
}

/** An adapter whose every method throws `error()`: routes answer 503 naming the missing binding. */
function unconfigured<T extends object>(error: () => Error): T {
  return new Proxy({} as T, {
    // Not a thenable: only its methods throw.
    get: (_target, property) =>
      property === "then"
        ? undefined
        : async () => {
            throw error();
          },
  });
}
