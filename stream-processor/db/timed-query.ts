/** A named (prepared) query on a transaction's connection, timed for the database-latency metric. */

/** What both a pooled connection and a pool offer (pg and @neondatabase/serverless alike). */
export interface Queryable {
  query<R = Record<string, unknown>>(config: {
    name?: string;
    text: string;
    values?: unknown[];
  }): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** Receives `<scope>_<operation>` and how long the statement took, ms. */
export type QueryTimer = (operation: string, durationMs: number) => void;

/**
 * Runs `text` as the prepared statement `driftline_<scope>_<operation>` (one plan per connection)
 * and reports its duration to `timer`, whether it succeeded or not.
 */
export async function timedQuery<R = Record<string, unknown>>(
  db: Queryable,
  timer: QueryTimer,
  scope: string,
  operation: string,
  text: string,
  values: unknown[] = [],
) {
  const started = performance.now();
  try {
    return await db.query<R>({ name: `driftline_${scope}_${operation}`, text, values });
  } finally {
    timer(`${scope}_${operation}`, performance.now() - started);
  }
}
