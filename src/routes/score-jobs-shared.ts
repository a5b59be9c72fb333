/** What the bulk scoring job routes share: the job's schema and JSON, middleware, errors, the id parameter. */
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { MAX_LISTED_ROW_ERRORS, SCORE_JOB_STATUSES } from "#core/score-jobs";
import type { AppEnv } from "../app-env";
import { requireKey } from "../auth/require-key";
import type { ScoreJob } from "../score-jobs/score-job-store";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";
import { iso } from "./read-shared";

export const SCORE_JOBS_TAG = "scoring";
export const SCORE_JOBS_SECURITY = BEARER_SECURITY;
export const SCORE_JOBS_MIDDLEWARE: MiddlewareHandler<AppEnv>[] = [requireKey("score")];
export const SCORE_JOBS_ERRORS = errorResponses(400, ...AUTH_ERRORS);

export const JobIdParam = z
  .string()
  .min(1)
  .max(64)
  .openapi({ param: { name: "id", in: "path" }, example: "4f1c2d6e-8a0b-4c3d-9e2f-1a2b3c4d5e6f" });

const RowErrorSchema = z
  .object({
    row: z.int().openapi({ description: "1-based row number in the file (header not counted)" }),
    field: z.string().openapi({
      description: "The column or feature at fault; `(row)` for the row as a whole",
    }),
    message: z.string(),
  })
  .openapi("ScoreJobRowError");

export const ScoreJobSchema = z
  .object({
    id: z.string(),
    model: z.string(),
    version: z.string().openapi({ description: "The version scoring every row of the job" }),
    format: z.enum(["csv", "ndjson"]).openapi({ description: "The uploaded file's format" }),
    status: z.enum(SCORE_JOB_STATUSES).openapi({
      description:
        "queued: no chunk picked up yet; running; succeeded: every row scored; partial: some rows failed; failed: no row scored",
    }),
    rowsReceived: z.int(),
    progress: z.object({
      rowsDone: z.int(),
      rowsTotal: z.int(),
      chunksDone: z.int(),
      chunksTotal: z.int(),
    }),
    counts: z.object({
      scored: z.int(),
      failed: z.int().openapi({ description: "Rows with an error instead of a score" }),
    }),
    errors: z.array(RowErrorSchema).openapi({
      description: `The first ${MAX_LISTED_ROW_ERRORS} row errors in row order (of the chunks done so far); \`counts.failed\` counts them all`,
    }),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    results: z.string().openapi({ description: "Where the results are read once the job is done" }),
  })
  .openapi("ScoreJob");

export type ScoreJobJson = z.infer<typeof ScoreJobSchema>;

export function jobJson(job: ScoreJob, errors: ScoreJobJson["errors"]): ScoreJobJson {
  return {
    id: job.id,
    model: job.model,
    version: job.version,
    format: job.format,
    status: job.status,
    rowsReceived: job.rowsTotal,
    progress: {
      rowsDone: job.rowsDone,
      rowsTotal: job.rowsTotal,
      chunksDone: job.chunksDone,
      chunksTotal: job.chunksTotal,
    },
    counts: { scored: job.scored, failed: job.failed },
    errors,
    createdAt: iso(job.createdAtMs),
    ...(job.startedAtMs === undefined ? {} : { startedAt: iso(job.startedAtMs) }),
    ...(job.finishedAtMs === undefined ? {} : { finishedAt: iso(job.finishedAtMs) }),
    results: `/v1/score/jobs/${job.id}/results`,
  };
}

export const jobPath = (id: string) => `/v1/score/jobs/${id}`;
