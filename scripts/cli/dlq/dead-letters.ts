/**
 * The dead letters on a Kafka `dlq` topic: read them all (a throwaway consumer group, nothing
 * committed), and send chosen ones back to the topic they came from, without the dead-letter
 * headers and marked with the letter they came from.
 */
import { randomUUID } from "node:crypto";
import { type IHeaders, type Kafka, Partitioners } from "kafkajs";
import { DependencyUnavailableError } from "#core/errors";
import { DLQ_HEADERS, DLQ_REPLAYED_FROM_HEADER, DLQ_TRUNCATED_HEADER } from "#core/topics";

export interface DeadLetterEntry {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** The letter's headers as text, the dead-letter ones included. */
  headers: Record<string, string>;
  reason: string;
  stage: string;
  originalTopic: string | undefined;
  originalPartition: string | undefined;
  originalOffset: string | undefined;
  failedAt: string | undefined;
  /** Set when the value was cut to fit Kafka: the original size in bytes. */
  truncatedFromBytes: number | undefined;
}

/** `<partition>:<offset>`, how an entry is named on the command line. */
export const entryId = (e: { partition: number; offset: string }) => `${e.partition}:${e.offset}`;

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(String).join(",") : value.toString();
  }
  return out;
}

const READ_TIMEOUT_MS = 60_000;
/** Bytes of records per produce request, well under the broker's request limit. */
const MAX_SEND_BYTES = 768 * 1024;

/** Every letter on `topic`, oldest first per partition; `[]` when it is empty. */
export async function readDeadLetters(kafka: Kafka, topic: string): Promise<DeadLetterEntry[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `driftline-cli-dlq-${randomUUID()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic).catch((error: Error) => {
      throw new DependencyUnavailableError(`cannot read topic ${topic}: ${error.message}`, {
        cause: error,
      });
    });
    // Each partition is read up to its end offset as it was now; letters arriving later wait for the next run.
    const ends = new Map(
      offsets
        .filter((o) => BigInt(o.high) > BigInt(o.low))
        .map((o) => [o.partition, BigInt(o.high)]),
    );
    if (ends.size === 0) return [];
    const entries: DeadLetterEntry[] = [];
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    try {
      let finish: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || BigInt(message.offset) >= end) return;
          const headers = headerText(message.headers);
          const truncated = headers[DLQ_TRUNCATED_HEADER];
          entries.push({
            partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers,
            reason: headers[DLQ_HEADERS.reason] ?? "(no reason recorded)",
            stage: headers[DLQ_HEADERS.stage] ?? "-",
            originalTopic: headers[DLQ_HEADERS.topic],
            originalPartition: headers[DLQ_HEADERS.partition],
            originalOffset: headers[DLQ_HEADERS.offset],
            failedAt: headers[DLQ_HEADERS.failedAt],
            truncatedFromBytes: truncated === undefined ? undefined : Number(truncated),
          });
          if (BigInt(message.offset) + 1n >= end) ends.set(partition, -1n);
          if ([...ends.values()].every((e) => e === -1n)) finish();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), READ_TIMEOUT_MS);
      });
      const outcome = await Promise.race([finished, timedOut]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        throw new DependencyUnavailableError(
          `read ${entries.length} letters of ${topic} but not up to its end within ${READ_TIMEOUT_MS / 1000} s`,
        );
      }
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return entries.sort(
      (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
    );
  } finally {
    // The group was only a way to read; it committed nothing and is not needed again.
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

export type ReplayDecision =
  | { kind: "replay"; entry: DeadLetterEntry; topic: string }
  | { kind: "skip"; entry: DeadLetterEntry; reason: string };

/**
 * Whether a letter can go back: to its original topic when that is one of `allowedTopics` (the
 * deployment's own event topics; never the dlq itself), and only when its value is whole.
 */
export function replayDecision(
  entry: DeadLetterEntry,
  allowedTopics: ReadonlySet<string>,
): ReplayDecision {
  if (entry.originalTopic === undefined) {
    return { kind: "skip", entry, reason: "the letter names no original topic" };
  }
  if (!allowedTopics.has(entry.originalTopic)) {
    return {
      kind: "skip",
      entry,
      reason: `its original topic ${entry.originalTopic} is not one this command replays to (${[...allowedTopics].join(", ")})`,
    };
  }
  if (entry.truncatedFromBytes !== undefined) {
    return {
      kind: "skip",
      entry,
      reason: `its value was cut from ${entry.truncatedFromBytes} bytes to fit the dead-letter topic; the original is lost`,
    };
  }
  return { kind: "replay", entry, topic: entry.originalTopic };
}

/** The original record's headers: the letter's without the dead-letter ones, plus where it came from. */
export function replayHeaders(entry: DeadLetterEntry): Record<string, string> {
  const deadLetterNames = new Set<string>([...Object.values(DLQ_HEADERS), DLQ_TRUNCATED_HEADER]);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.headers)) {
    if (!deadLetterNames.has(name)) headers[name] = value;
  }
  headers[DLQ_REPLAYED_FROM_HEADER] = `dlq:${entryId(entry)}`;
  return headers;
}

/** Sends the records back (idempotent producer, acks=all), grouped per topic; resolves when all are written. */
export async function sendBack(
  kafka: Kafka,
  decisions: readonly Extract<ReplayDecision, { kind: "replay" }>[],
): Promise<void> {
  if (decisions.length === 0) return;
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    // In requests of bounded size, in order: letters hold up to 512 KiB each.
    let chunk: (typeof decisions)[number][] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const byTopic = new Map<string, (typeof decisions)[number][]>();
      for (const d of chunk) byTopic.set(d.topic, [...(byTopic.get(d.topic) ?? []), d]);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((d) => ({
            key: d.entry.key,
            value: d.entry.value,
            headers: replayHeaders(d.entry),
          })),
        })),
      });
      chunk = [];
      bytes = 0;
    };
    for (const d of decisions) {
      const size = (d.entry.key?.length ?? 0) + (d.entry.value?.length ?? 0);
      if (chunk.length > 0 && bytes + size > MAX_SEND_BYTES) await flush();
      chunk.push(d);
      bytes += size;
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
}
