/** DeadLetterSink on a Kafka topic (kafkajs): the original bytes, plus why and where from in headers. */
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { DependencyUnavailableError } from "#core/errors";
import type { DeadLetter, DeadLetterSink } from "./dead-letter-sink";

/** Header names on every dead letter (values are UTF-8 text). */
export const DLQ_HEADERS = {
  reason: "driftline-dlq-reason",
  stage: "driftline-dlq-stage",
  topic: "driftline-dlq-original-topic",
  partition: "driftline-dlq-original-partition",
  offset: "driftline-dlq-original-offset",
  consumerGroup: "driftline-dlq-consumer-group",
  failedAt: "driftline-dlq-failed-at",
} as const;

/** Reasons are clipped so that a huge zod message cannot make the letter itself too large. */
const MAX_REASON_CHARS = 2_000;

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
    try {
      this.connected ??= this.producer.connect();
      await this.connected;
      await this.producer.send({
        topic: this.options.topic,
        acks: -1,
        messages: letters.map((l) => ({
          key: l.key,
          value: l.value,
          headers: {
            ...l.headers,
            [DLQ_HEADERS.reason]: l.reason.slice(0, MAX_REASON_CHARS),
            [DLQ_HEADERS.stage]: l.stage,
            [DLQ_HEADERS.topic]: l.topic,
            [DLQ_HEADERS.partition]: String(l.partition),
            [DLQ_HEADERS.offset]: l.offset,
            [DLQ_HEADERS.consumerGroup]: this.options.consumerGroup,
            [DLQ_HEADERS.failedAt]: failedAt,
          },
        })),
      });
    } catch (error) {
      // A failed connect must be retried by the next call, not remembered.
      this.connected = undefined;
      throw new DependencyUnavailableError(
        `Cannot write ${letters.length} dead letter(s) to Kafka topic ${this.options.topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.producer.disconnect();
  }
}
