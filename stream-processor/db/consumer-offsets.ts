/** Consumer offsets in Postgres (`consumer_offsets`): compare-and-set advances inside a batch transaction, and the reads a consumer resumes from. */
import { ADVANCE_OFFSET_SQL, READ_OFFSET_SQL } from "#core/offsets";
import type { OffsetAdvance, OffsetAdvanceResult } from "../batch/batch-transaction";
import { nullableNumberArray, numberArray, textArray } from "./array-literals";
import {
  type NamedStatement,
  type Queryable,
  type QueryTimer,
  timedStatement,
} from "./timed-query";

// Statements are named so that each pooled connection parses and plans them once.
const SQL = {
  advanceOffset: {
    name: "driftline_advance_offset",
    // Compare-and-set: a stored row is updated only if it holds the expected offset; with no
    // expectation (NULL never equals) only a missing row is inserted.
    text: ADVANCE_OFFSET_SQL,
  },
  advanceOffsets: {
    name: "driftline_advance_offsets",
    // advanceOffset for many partitions in one round trip: stored rows move only from the
    // expected offset (a concurrent commit makes the UPDATE re-check the row it waited for),
    // missing rows are inserted only where nothing was expected. Answers the 1-based positions
    // that moved; the others were fenced.
    text: `WITH input AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])
               WITH ORDINALITY AS i(group_id, topic, partition, expected, next_offset, idx)
           ), updated AS (
             UPDATE consumer_offsets AS o
             SET next_offset = input.next_offset, updated_at = now()
             FROM input
             WHERE o.group_id = input.group_id AND o.topic = input.topic
               AND o.partition = input.partition AND o.next_offset = input.expected
             RETURNING input.idx
           ), inserted AS (
             INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
             SELECT group_id, topic, partition, next_offset FROM input WHERE expected IS NULL
             ORDER BY group_id, topic, partition
             ON CONFLICT DO NOTHING
             RETURNING group_id, topic, partition
           )
           SELECT idx FROM updated
           UNION ALL
           SELECT input.idx FROM inserted JOIN input USING (group_id, topic, partition)`,
  },
  readOffset: {
    name: "driftline_read_offset",
    text: READ_OFFSET_SQL,
  },
} as const;

/** The offsets of one batch transaction, on its connection (see BatchTransaction). */
export class ConsumerOffsets {
  constructor(
    private readonly db: Queryable,
    private readonly timer: QueryTimer,
  ) {}

  async advanceOffset(a: OffsetAdvance): Promise<OffsetAdvanceResult> {
    const result = await this.run("advance_offset", SQL.advanceOffset, [
      a.groupId,
      a.topic,
      a.partition,
      a.expectedNextOffset,
      a.nextOffset,
    ]);
    if ((result.rowCount ?? 0) === 1) return { ok: true };
    return this.fenced(a);
  }

  async advanceOffsets(advances: readonly OffsetAdvance[]): Promise<OffsetAdvanceResult[]> {
    if (advances.length === 1) return [await this.advanceOffset(advances[0]!)];
    if (advances.length === 0) return [];
    const result = await this.run("advance_offsets", SQL.advanceOffsets, [
      textArray(advances.map((a) => a.groupId)),
      textArray(advances.map((a) => a.topic)),
      numberArray(advances.map((a) => a.partition)),
      nullableNumberArray(advances.map((a) => a.expectedNextOffset)),
      numberArray(advances.map((a) => a.nextOffset)),
    ]);
    const moved = new Set(result.rows.map((r) => Number(r.idx) - 1));
    const results: OffsetAdvanceResult[] = [];
    for (const [i, a] of advances.entries()) {
      // Fenced (rare: another member took the partition over): say what the store holds.
      results.push(moved.has(i) ? { ok: true } : await this.fenced(a));
    }
    return results;
  }

  private async fenced(a: OffsetAdvance): Promise<OffsetAdvanceResult> {
    const stored = await this.run("read_offset", SQL.readOffset, [a.groupId, a.topic, a.partition]);
    return {
      ok: false,
      storedNextOffset: (stored.rows[0]?.next_offset as string | undefined) ?? null,
    };
  }

  private run(operation: string, statement: NamedStatement, values: unknown[]) {
    return timedStatement(this.db, this.timer, operation, statement, values);
  }
}

/** Stored next offsets of `partitions` of a group's topic (absent: none stored). */
export async function loadNextOffsets(
  db: Queryable,
  groupId: string,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, string>> {
  const { rows } = await db.query<{ partition: number; next_offset: string }>({
    text: `SELECT partition, next_offset::text AS next_offset FROM consumer_offsets
           WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])`,
    values: [groupId, topic, partitions],
  });
  return new Map(rows.map((r) => [r.partition, r.next_offset]));
}
