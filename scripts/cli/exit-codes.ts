/**
 * The `driftline` command's exit codes and the errors that choose them: 0 done, 1 failed,
 * 2 usage error (nothing was done), 3 partial (done, but some items were refused or skipped).
 */
import { DriftlineError } from "#core/errors";

export const EXIT = { ok: 0, failure: 1, usage: 2, partial: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command line that cannot be carried out as given: exit 2, nothing done. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * The one line printed for a failure: the message with its lines joined, without the usage text
 * the npm scripts append (the CLI points at `--help` instead), never a stack trace.
 */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const withoutUsage = text.split(/\n\s*\nUsage:/)[0] ?? text;
  return withoutUsage
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join("; ");
}

/**
 * The exit code of a failure: 2 for a usage error or a refused argument (a ValidationError the
 * command raised before doing anything), 1 for everything else.
 */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof DriftlineError && error.code === "VALIDATION") return EXIT.usage;
  return EXIT.failure;
}
