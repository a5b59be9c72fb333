/** The states of a bulk scoring job and the limits it runs under. */
import { z } from "zod";

export const SCORE_JOB_STATUSES = ["queued", "running", "succeeded", "failed", "partial"] as const;
export type ScoreJobStatus = (typeof SCORE_JOB_STATUSES)[number];

/** Per-row errors one job answer lists (the count covers them all). */
export const MAX_LISTED_ROW_ERRORS = 100;

/** Rows scored per call of the model: the batch size of POST /v1/score. */
export const JOB_SCORE_BATCH_ROWS = 1_000;

/** A queue message: one chunk of one job to score. */
export const scoreJobMessageSchema = z.object({
  kind: z.literal("score-job-chunk"),
  tenant: z.string().min(1),
  jobId: z.string().uuid(),
  chunk: z.int().min(0),
});
export type ScoreJobMessage = z.infer<typeof scoreJobMessageSchema>;

/** Whether a finished job succeeded, partly succeeded or failed, by its counts. */
export function finishedStatus(scored: number, failed: number): ScoreJobStatus {
  if (failed === 0) return "succeeded";
  return scored === 0 ? "failed" : "partial";
}
