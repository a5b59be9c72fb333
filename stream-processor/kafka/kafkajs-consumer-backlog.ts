/** How far the whole consumer group is behind Kafka on the topics it counts: every partition's end offset against the group's offsets stored in Postgres. */
import type { Admin, Kafka } from "kafkajs";

/** The ConsumerBacklog port: records of the consumed topics not yet processed by any member. */
export interface ConsumerBacklog {
  /** Sum over every partition of (end offset − the group's stored next offset); 0 = caught up. */
  records(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Reads the brokers' end offsets with a kafkajs admin client and the stored offsets through
 * `loadNextOffsets` (Postgres, where the group commits them with its results), so it answers
 * for the whole group, every instance's partitions included. A partition without a stored
 * offset counts from its first offset (nothing of it processed yet).
 */
export class KafkajsConsumerBacklog implements ConsumerBacklog {
  private readonly admin: Admin;
  private connected: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly topics: readonly string[],
    private readonly loadNextOffsets: (
      topic: string,
      partitions: readonly number[],
    ) => Promise<Map<number, string>>,
  ) {
    this.admin = kafka.admin();
  }

  async records(): Promise<number> {
    this.connected ??= this.admin.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    await this.connected;
    let total = 0n;
    for (const topic of this.topics) {
      const ends = await this.admin.fetchTopicOffsets(topic);
      const stored = await this.loadNextOffsets(
        topic,
        ends.map((e) => e.partition),
      );
      for (const end of ends) {
        const next = BigInt(stored.get(end.partition) ?? end.low);
        const behind = BigInt(end.high) - next;
        if (behind > 0n) total += behind;
      }
    }
    return Number(total);
  }

  async close(): Promise<void> {
    if (this.connected === undefined) return;
    await this.connected.catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }
}
