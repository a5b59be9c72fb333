/** Fakes of the ingest queue's ports for unit tests of pure logic: a queue, a Kafka sink, a message. */

import { IngestBundleEnvelope, IngestMessage } from "../ingest-message";
import type { IngestQueueBody } from "../ingest-queue-body";
import type { ProduceOutcome, ProduceRecord, QueueMessageLike, RecordSink } from "../queue-ports";

/**
 * A Queue that records its sendBatch calls; the calls whose (1-based) number is in `failCalls`
 * reject with `refusal(number)`.
 */
export class RecordingQueue {
  readonly calls: { body: IngestQueueBody; contentType?: string }[][] = [];
  failCalls = new Set<number>();
  private count = 0;

  constructor(private readonly refusal = (call: number) => `call ${call} refused`) {}

  async sendBatch(messages: Iterable<{ body: IngestQueueBody; contentType?: string }>) {
    this.count += 1;
    if (this.failCalls.has(this.count)) throw new Error(this.refusal(this.count));
    this.calls.push([...messages]);
  }

  /** Every body sent, in order (bundles are JSON text). */
  bodies(): string[] {
    return this.calls.flat().map((m) => m.body as string);
  }

  /** The records of every bundle sent, in order. */
  records(): IngestMessage[] {
    return this.bodies()
      .flatMap((b) => IngestBundleEnvelope.parse(JSON.parse(b)).records)
      .map((r) => IngestMessage.parse(r));
  }
}

/** A Kafka sink that produces everything and records each call. */
export class RecordingSink implements RecordSink {
  readonly produced: { topic: string; records: ProduceRecord[] }[] = [];
  async produce(topic: string, records: ProduceRecord[]): Promise<ProduceOutcome[]> {
    this.produced.push({ topic, records });
    return records.map(() => ({ ok: true }));
  }
}

/** A queue message that remembers whether it was acked or retried (and with which delay). */
export class FakeMessage implements QueueMessageLike {
  acked = false;
  retriedWith: { delaySeconds?: number } | undefined;
  constructor(
    readonly id: string,
    readonly body: unknown,
    readonly attempts = 1,
  ) {}
  ack(): void {
    this.acked = true;
  }
  retry(options?: { delaySeconds?: number }): void {
    this.retriedWith = options ?? {};
  }
  get settled(): "acked" | "retried" | "open" {
    if (this.acked && this.retriedWith === undefined) return "acked";
    if (!this.acked && this.retriedWith !== undefined) return "retried";
    return "open";
  }
}
