/** DeadLetterSink on a Kafka topic (kafkajs): the original bytes, plus why and where from in headers. */
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { DependencyUnavailableError } from "#core/errors";
import { DLQ_HEADERS, DLQ_TRUNCATED_HEADER } from "#core/topics";
import type { DeadLetter, DeadLetterSink } from "./dead-letter-sink";

// The header names live in the core, where `driftline dlq` reads them too.
export { DLQ_HEADERS, DLQ_TRUNCATED_HEADER };

/** Reasons are clipped so that a huge zod message cannot make the letter itself too large. */
const MAX_REASON_CHARS = 2_000;
/**
 * Largest key + value a letter keeps, bytes. Kafka refuses a message (and a produce request) over
 * its `max.message.bytes` (1 MiB by default), and a refused send would hold the batch for ever:
 * a longer original is cut, and the letter says so (DLQ_TRUNCATED_HEADER, the original size).
 */
export const MAX_LETTER_BYTES = 512 * 1024;
/** Bytes of letters per produce request, well under the broker's request limit. */
const MAX_SEND_BYTES = 768 * 1024;

export class KafkajsDeadLetterSink implements DeadLetterSink {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly options: { topic: string; consumerGroup: string; now?: () => Date },
  ) {
    // Idempotent with acks=all: a retried send after a broker hiccup is not written twice.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // kafkajs' default since 2.0 (murmur2, as the Java client); naming it silences its warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const failedAt = (this.options.now?.() ?? new Date()).toISOString();
    const messages = letters.map((l) => this.message(l, failedAt));
    try {
      this.connected ??= this.producer.connect();
      await this.connected;
      // In requests of bounded size, in order: many large letters from one batch must not add up
      // to a request the broker refuses.
      for (const chunk of chunksBySize(messages, MAX_SEND_BYTES)) {
        await this.producer.send({ topic: this.options.topic, acks: -1, messages: chunk });
      }
    } catch (error) {
      // A failed connect must be retried by the next call, not remembered.
      this.connected = undefined;
      throw new DependencyUnavailableError(
        `Cannot write ${letters.length} dead letter(s) to Kafka topic ${this.options.topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  private message(l: DeadLetter, failedAt: string) {
    const keyBytes = l.key?.length ?? 0;
    const room = Math.max(0, MAX_LETTER_BYTES - keyBytes);
    const truncated = l.value !== null && l.value.length > room;
    return {
      key: l.key,
      value: truncated ? l.value!.subarray(0, room) : l.value,
      headers: {
        ...l.headers,
        [DLQ_HEADERS.reason]: l.reason.slice(0, MAX_REASON_CHARS),
        [DLQ_HEADERS.stage]: l.stage,
        [DLQ_HEADERS.topic]: l.topic,
        [DLQ_HEADERS.partition]: String(l.partition),
        [DLQ_HEADERS.offset]: l.offset,
        [DLQ_HEADERS.consumerGroup]: this.options.consumerGroup,
        [DLQ_HEADERS.failedAt]: failedAt,
        ...(truncated ? { [DLQ_TRUNCATED_HEADER]: String(l.value!.length) } : {}),
      },
    };
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.producer.disconnect();
  }
}

/** Consecutive runs of messages whose keys and values add up to at most `maxBytes` (one at least). */
export function chunksBySize<M extends { key: Buffer | null; value: Buffer | null }>(
  messages: readonly M[],
  maxBytes: number,
): M[][] {
  const chunks: M[][] = [];
  let current: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.key?.length ?? 0) + (m.value?.length ?? 0);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
