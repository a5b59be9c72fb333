/**
 * The progress file of a replay, beside its input (`<input>.progress.json`): the last line and
 * byte offset the Worker acknowledged, and the counts so far, so `--resume` continues from there.
 */
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";

export const ReplayCountsSchema = z.object({
  accepted: z.int().nonnegative(),
  duplicates: z.int().nonnegative(),
  rejected: z.int().nonnegative(),
});
export type ReplayCounts = z.infer<typeof ReplayCountsSchema>;

export const RejectionSchema = z.object({
  line: z.int().positive(),
  eventId: z.string().nullable(),
  reason: z.string(),
});
export type Rejection = z.infer<typeof RejectionSchema>;

export const ReplayProgressSchema = z.object({
  version: z.literal(1),
  /** The input's size when the replay began: a file that shrank since cannot be resumed. */
  inputSizeBytes: z.int().nonnegative(),
  /** Where the events went, e.g. POST http://127.0.0.1:8787/v1/events. */
  destination: z.string(),
  /** Records (lines, or CSV rows) up to `offset`, all acknowledged. */
  line: z.int().nonnegative(),
  offset: z.int().nonnegative(),
  counts: ReplayCountsSchema,
  firstRejections: z.array(RejectionSchema),
  complete: z.boolean(),
  updatedAt: z.string(),
});
export type ReplayProgress = z.infer<typeof ReplayProgressSchema>;

export function progressFileOf(input: string): string {
  return `${input}.progress.json`;
}

/** The progress recorded for `input`, undefined when there is none; a damaged file is an error. */
export async function readReplayProgress(input: string): Promise<ReplayProgress | undefined> {
  const file = progressFileOf(input);
  if (!existsSync(file)) return undefined;
  const parsed = ReplayProgressSchema.safeParse(
    await readFile(file, "utf8").then(
      (text) => JSON.parse(text) as unknown,
      () => undefined,
    ),
  );
  if (!parsed.success) {
    throw new Error(
      `${file} is not a replay progress file this version understands; delete it to start over`,
    );
  }
  return parsed.data;
}

/** Replaces the progress file atomically (written aside, then renamed over it). */
export async function writeReplayProgress(input: string, progress: ReplayProgress): Promise<void> {
  const file = progressFileOf(input);
  const staging = `${file}.${process.pid}.tmp`;
  await writeFile(staging, `${JSON.stringify(progress, null, 2)}\n`);
  await rename(staging, file);
}
