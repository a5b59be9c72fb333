/** The ingest queue consumer: groups a batch by topic, produces it to Kafka, retries what failed. */
import { topicNames } from "../core/topics";
import { IngestMessage } from "./ingest-message";
import { readIngestQueueBody } from "./ingest-queue-body";

export interface ProduceRecord {
  key: string;
  value: unknown;
  headers?: Record<string, string>;
}

/** Outcome per record, in the order given. */
export type ProduceOutcome = { ok: true } | { ok: false; retryable: boolean; message: string };

/** The port the consumer writes through (Kafka REST Proxy v3 in production and locally). */
export interface RecordSink {
  produce(topic: string, records: ProduceRecord[]): Promise<ProduceOutcome[]>;
}

/** The slice of Cloudflare's `Message` the consumer uses, so it can run outside workerd too. */
export interface QueueMessageLike {
  id: string;
  body: unknown;
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/**
 * What a topic's expander makes of a queued message: the record to produce, a message to drop
 * (acked and logged: it can never be produced), or a failure counted like a failed produce.
 * Throwing redelivers the message.
 */
export type ExpandedRecord =
  | { kind: "record"; record: ProduceRecord }
  | { kind: "drop"; reason: string }
  | { kind: "fail"; retryable: boolean; reason: string };

/**
 * Builds the Kafka record of a message whose queued value is only a notice (topic `models`: the
 * manifest is read from the model store here, since a queue message holds at most 128 KB).
 */
export type RecordExpander = (message: IngestMessage) => Promise<ExpandedRecord>;

export interface ConsumeResult {
  produced: number;
  retried: number;
  /** Bodies that can never be produced (bad shape); acked and logged without their values. */
  dropped: number;
}

/** Exponential backoff for queue redelivery: 2 s, 4 s, 8 s … capped at 5 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 2 ** Math.max(1, attempts));
}

export async function consumeIngestBatch(
  messages: readonly QueueMessageLike[],
  deps: {
    sink: RecordSink;
    topicPrefix: string;
    log?: (entry: Record<string, unknown>) => void;
    /** Per logical topic, for messages that are expanded before they are produced. */
    expanders?: Partial<Record<IngestMessage["topic"], RecordExpander>>;
  },
): Promise<ConsumeResult> {
  const names = topicNames(deps.topicPrefix);
  const byTopic = new Map<string, { message: QueueMessageLike; record: ProduceRecord }[]>();
  const result: ConsumeResult = { produced: 0, retried: 0, dropped: 0 };

  for (const message of messages) {
    // Event messages arrive as JSON text, others as objects (see IngestQueueBody); the record
    // value is the same JSON either way.
    const parsed = IngestMessage.safeParse(readIngestQueueBody(message.body));
    if (!parsed.success) {
      // A body the Worker itself never produces; retrying cannot fix it.
      deps.log?.({ level: "error", msg: "dropping malformed ingest message", id: message.id });
      message.ack();
      result.dropped += 1;
      continue;
    }
    const topic = names[parsed.data.topic];
    const expander = deps.expanders?.[parsed.data.topic];
    if (expander !== undefined) {
      // One at a time, in order: expanded records can be large (up to ~1 MB each).
      const expanded = await expandOne(expander, message, parsed.data, deps.log);
      if (expanded.kind === "drop") {
        result.dropped += 1;
        continue;
      }
      if (expanded.kind === "fail") {
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
        result.retried += 1;
        continue;
      }
      const group = byTopic.get(topic) ?? [];
      group.push({ message, record: expanded.record });
      byTopic.set(topic, group);
      continue;
    }
    const group = byTopic.get(topic) ?? [];
    group.push({
      message,
      record: { key: parsed.data.key, value: parsed.data.value, headers: parsed.data.headers },
    });
    byTopic.set(topic, group);
  }

  for (const [topic, group] of byTopic) {
    let outcomes: ProduceOutcome[];
    try {
      outcomes = await deps.sink.produce(
        topic,
        group.map((g) => g.record),
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      outcomes = group.map(() => ({ ok: false, retryable: true, message }));
    }
    group.forEach(({ message }, i) => {
      const outcome = outcomes[i] ?? { ok: false, retryable: true, message: "no outcome returned" };
      if (outcome.ok) {
        message.ack();
        result.produced += 1;
      } else {
        // Non-retryable failures are retried too: the queue's max_retries then moves them to
        // the dead-letter queue, where nothing accepted is lost.
        deps.log?.({
          level: "warn",
          msg: "produce failed; message will be redelivered",
          topic,
          id: message.id,
          attempts: message.attempts,
          retryable: outcome.retryable,
          reason: outcome.message,
        });
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
        result.retried += 1;
      }
    });
  }
  return result;
}

/** Runs an expander; acks a dropped message, logs failures (a throw becomes a retryable one). */
async function expandOne(
  expander: RecordExpander,
  message: QueueMessageLike,
  body: IngestMessage,
  log: ((entry: Record<string, unknown>) => void) | undefined,
): Promise<ExpandedRecord> {
  let expanded: ExpandedRecord;
  try {
    expanded = await expander(body);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    expanded = { kind: "fail", retryable: true, reason };
  }
  if (expanded.kind === "drop") {
    log?.({
      level: "error",
      msg: "dropping a message that cannot be expanded",
      id: message.id,
      topic: body.topic,
      reason: expanded.reason,
    });
    message.ack();
  } else if (expanded.kind === "fail") {
    log?.({
      level: "warn",
      msg: "expanding failed; message will be redelivered",
      id: message.id,
      topic: body.topic,
      attempts: message.attempts,
      retryable: expanded.retryable,
      reason: expanded.reason,
    });
  }
  return expanded;
}
