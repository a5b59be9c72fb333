/** Named (prepared) queries on a transaction's connection, timed for the database-latency metric. */

/** What both a pooled connection and a pool offer (pg and @neondatabase/serverless alike). */
export interface Queryable {
  query<R = Record<string, unknown>>(config: {
    name?: string;
    text: string;
    values?: unknown[];
  }): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** Receives the operation's name and how long the statement took, ms. */
export type QueryTimer = (operation: string, durationMs: number) => void;

/** A statement with its prepared-statement name (one plan per connection). */
export interface NamedStatement {
  name: string;
  text: string;
}

/** Runs `statement` and reports its duration to `timer` as `operation`, whether it succeeded or not. */
export async function timedStatement<R = Record<string, unknown>>(
  db: Queryable,
  timer: QueryTimer,
  operation: string,
  statement: NamedStatement,
  values: unknown[] = [],
) {
  const started = performance.now();
  try {
    return await db.query<R>({ ...statement, values });
  } finally {
    timer(operation, performance.now() - started);
  }
}

/** Runs `text` as the prepared statement `driftline_<scope>_<operation>`, timed as `<scope>_<operation>`. */
export function timedQuery<R = Record<string, unknown>>(
  db: Queryable,
  timer: QueryTimer,
  scope: string,
  operation: string,
  text: string,
  values: unknown[] = [],
) {
  const name = `${scope}_${operation}`;
  return timedStatement<R>(db, timer, name, { name: `driftline_${name}`, text }, values);
}

/** `timedQuery` bound to one connection and scope: how a repository runs its statements. */
export type ScopedQuery = <R = Record<string, unknown>>(
  operation: string,
  text: string,
  values?: unknown[],
) => Promise<{ rows: R[]; rowCount: number | null }>;

export function scopedQuery(db: Queryable, timer: QueryTimer, scope: string): ScopedQuery {
  return <R>(operation: string, text: string, values: unknown[] = []) =>
    timedQuery<R>(db, timer, scope, operation, text, values);
}
