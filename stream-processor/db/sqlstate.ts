/** How the stream processor reads a database error: the data refused (retrying cannot help) or a failure worth retrying. */
import { DriftlineError } from "#core/errors";

/**
 * Postgres refuses the data itself: class 22 (data exception, e.g. 22P02 a value jsonb cannot
 * hold), 23 (integrity constraint violation) and 54 (program limit exceeded, e.g. 54001 statement
 * too complex): the same statement with the same data fails the same way every time.
 */
const REFUSED_CLASSES = /^(22|23|54)[0-9A-Z]{3}$/;

/**
 * Worth retrying the whole batch for: connection (08), transaction rollback such as
 * serialization failure or deadlock (40), insufficient resources (53), operator intervention
 * (57) and system errors (58).
 */
const TRANSIENT_CLASSES = /^(08|40|53|57|58)[0-9A-Z]{3}$/;

/** The SQLSTATE of a Postgres error (pg and the Neon driver both put it in `code`). */
export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The database refused the data: retrying the same statement cannot help. */
export function isDataRefusal(error: unknown): boolean {
  const code = sqlstateOf(error);
  return code !== undefined && REFUSED_CLASSES.test(code);
}

/**
 * Whether retrying the batch can help: the transient SQLSTATE classes, and errors without a
 * SQLSTATE that are not programming errors (a connection that died mid-statement).
 */
export function isTransientFailure(error: unknown): boolean {
  const code = sqlstateOf(error);
  if (code !== undefined) return TRANSIENT_CLASSES.test(code);
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return false;
  }
  if (error instanceof DriftlineError) return error.retryable;
  return true;
}
