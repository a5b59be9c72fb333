/** Reads back what reached a Kafka topic for one tenant, from offsets taken before the test sent it. */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers } from "../../scripts/local/kafka";

const stack = loadLocalStackConfig();

export interface ReadRecord {
  key: string;
  value: unknown;
  partition: number;
  offset: string;
  headers: Record<string, string>;
}

export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(stack), logLevel: logLevel.NOTHING });
}

/** The end offset of every partition of `topic` now. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads `topic` from `from` until `expected` records keyed `keyPrefix…` arrived (or the timeout),
 * then `settleMs` longer so that extra copies would show.
 */
export async function readRecords(
  kafka: Kafka,
  topic: string,
  from: Map<number, string>,
  keyPrefix: string,
  expected: number,
  options: { timeoutMs: number; settleMs?: number },
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}` });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString() ?? "";
        if (!key.startsWith(keyPrefix)) return;
        records.push({
          key,
          value: JSON.parse(message.value?.toString() ?? "null"),
          partition,
          offset: message.offset,
          headers: Object.fromEntries(
            Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
          ),
        });
      },
    });
    for (const [partition, offset] of from) consumer.seek({ topic, partition, offset });
    const deadline = Date.now() + options.timeoutMs;
    while (records.length < expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, options.settleMs ?? 500));
  } finally {
    await consumer.disconnect();
  }
  return records;
}
