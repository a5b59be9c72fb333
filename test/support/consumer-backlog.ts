/** How far a consumer group that stores its offsets in Postgres (`consumer_offsets`) is behind Kafka. */
import type { Admin } from "kafkajs";
import type pg from "pg";

/**
 * Sum over `topics` of (end offset − the group's stored next offset); a partition without a
 * stored offset counts from its low watermark. 0 when everything is processed.
 */
export async function consumerBacklog(
  admin: Admin,
  db: pg.Pool,
  groupId: string,
  topics: readonly string[],
): Promise<number> {
  let total = 0n;
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const { rows } = await db.query<{ partition: number; next_offset: string }>(
      "SELECT partition, next_offset::text FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
      [groupId, topic],
    );
    for (const end of ends) {
      const stored = rows.find((r) => r.partition === end.partition)?.next_offset ?? end.low;
      total += BigInt(end.high) - BigInt(stored);
    }
  }
  return Number(total);
}
