/**
 * Exactly-once consumption with offsets kept in Postgres (`consumer_offsets`): the compare-and-set
 * statement a consumer runs in the transaction that stores a batch's results, and where a
 * partition resumes. Shared by the stream processor and the retraining worker.
 */

/**
 * Moves a partition's stored next offset from `$4` (the offset the batch started at; NULL when
 * nothing was stored) to `$5`, in the transaction of the batch's results. Answers one row when
 * it moved; none when another member moved it first (the batch is then fenced and its
 * transaction must roll back). Parameters: group, topic, partition, expected, next.
 */
export const ADVANCE_OFFSET_SQL = `INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)
           VALUES ($1, $2, $3, $5::bigint)
           ON CONFLICT (group_id, topic, partition) DO UPDATE
             SET next_offset = EXCLUDED.next_offset, updated_at = now()
             WHERE o.next_offset = $4::bigint
           RETURNING 1`;

/** The stored next offset of one partition; parameters: group, topic, partition. */
export const READ_OFFSET_SQL = `SELECT next_offset::text AS next_offset FROM consumer_offsets
           WHERE group_id = $1 AND topic = $2 AND partition = $3`;

export type ResumeDecision =
  /** Process the batch's records at or after `from` (null: every record). */
  | { kind: "process"; from: string | null }
  /** The fetch position disagrees with the store: seek there and drop this batch unprocessed. */
  | { kind: "seek"; offset: string };

/**
 * Where a fetched batch stands against the store. Kafka's own group offset is only a hint: the
 * stored offset wins, except that a stored offset retention already deleted resumes at the log
 * start (`logStart`, when known).
 */
export function resumeDecision(input: {
  stored: string | null;
  fetched: string | undefined;
  logStart?: string;
}): ResumeDecision {
  const { stored, fetched, logStart } = input;
  if (stored === null || fetched === undefined || fetched === stored) {
    return { kind: "process", from: stored };
  }
  let target = stored;
  if (logStart !== undefined && BigInt(logStart) > BigInt(stored)) target = logStart;
  if (fetched === target) return { kind: "process", from: target };
  return { kind: "seek", offset: target };
}
