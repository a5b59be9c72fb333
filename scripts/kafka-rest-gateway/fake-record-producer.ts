/** An in-memory RecordProducer for route tests: keeps what was produced, can be told to fail. */
import type { DriftlineError } from "#core/errors";
import type { DeliveredRecord, OutgoingRecord, RecordProducer } from "./record-producer";

export class FakeRecordProducer implements RecordProducer {
  readonly produced: Array<{ topic: string; record: OutgoingRecord }> = [];
  /** Number of `produce` calls (one per HTTP produce request that reached Kafka). */
  calls = 0;
  failWith: DriftlineError | undefined;
  isReady = true;
  readonly partitions: number;
  private readonly offsets = new Map<string, number>();

  constructor(options: { partitions?: number; kafkaClusterId?: string } = {}) {
    this.partitions = options.partitions ?? 1;
    this.kafkaClusterId = options.kafkaClusterId;
  }

  private readonly kafkaClusterId: string | undefined;

  clusterId(): string | undefined {
    return this.kafkaClusterId;
  }

  async ready(): Promise<boolean> {
    return this.isReady;
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<DeliveredRecord[]> {
    this.calls += 1;
    if (this.failWith) throw this.failWith;
    return records.map((record) => {
      const partition = record.partition ?? 0;
      const key = `${topic}/${partition}`;
      const offset = this.offsets.get(key) ?? 0;
      this.offsets.set(key, offset + 1);
      this.produced.push({ topic, record });
      return { partition, offset, timestampMs: record.timestampMs };
    });
  }

  async close(): Promise<void> {}
}
