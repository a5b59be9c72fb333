/** The ingest queue consumer: reads single and bundled records, produces them to Kafka by topic, retries or re-enqueues what failed. */
import { topicNames } from "#core/topics";
import type { IngestMessage } from "./ingest-message";
import { ingestBundleText, parseIngestQueueBody } from "./ingest-queue-body";
import type {
  BundleRequeue,
  DeadLetterParking,
  ExpandedRecord,
  ProduceOutcome,
  ProduceRecord,
  QueueMessageLike,
  RecordExpander,
  RecordSink,
} from "./queue-ports";

export interface ConsumeResult {
  /** Records produced to Kafka. */
  produced: number;
  /** Queue messages redelivered whole (`retry`); after max_retries the queue dead-letters them. */
  retried: number;
  /** Records of partly produced bundles put back on the queue in a new bundle. */
  requeued: number;
  /** Bodies and records that can never be produced (bad shape, unexpandable); logged without their values. */
  dropped: number;
  /** Dead-lettered records set aside (DeadLetterParking) after `parkAfterAttempts` deliveries. */
  parked: number;
}

/**
 * Deliveries after which the dead-letter consumer parks what still fails: with the dead-letter
 * queue's backoff capped at an hour, about two days of hourly rounds after the first ~18 minutes.
 */
export const DEFAULT_PARK_AFTER_ATTEMPTS = 60;

/** `max_retries` of the ingest queue's consumer in wrangler.toml. */
export const DEFAULT_MAX_RETRIES = 10;

/** Longest backoff of the ingest queue's consumer, seconds. */
export const MAX_RETRY_DELAY_SECONDS = 300;

/** Exponential backoff for queue redelivery: 2 s, 4 s, 8 s … capped at `maxSeconds` (5 minutes). */
export function retryDelaySeconds(
  attempts: number,
  maxSeconds: number = MAX_RETRY_DELAY_SECONDS,
): number {
  return Math.min(maxSeconds, 2 ** Math.max(1, attempts));
}

export interface ConsumeIngestDeps {
  sink: RecordSink;
  topicPrefix: string;
  log?: (entry: Record<string, unknown>) => void;
  /** Per logical topic, for records that are expanded before they are produced. */
  expanders?: Partial<Record<IngestMessage["topic"], RecordExpander>>;
  /** Where the unproduced rest of a partly produced bundle goes; without it the bundle is retried whole. */
  requeue?: BundleRequeue;
  /** The queue's `max_retries`; bounds how often a bundle's rest is re-enqueued. Default 10. */
  maxRetries?: number;
  /** Longest backoff, seconds. Default 300. */
  maxRetryDelaySeconds?: number;
  /**
   * The last stop (the dead-letter queue, read again): a message is never retried in place,
   * where its queue's max_retries would drop it. Whatever fails, all of a message or part of
   * it, goes back through `requeue` as a new bundle after the backoff, carrying its deliveries,
   * and is logged as an error; only if that send fails is the message retried.
   */
  keepFailures?: boolean;
  /**
   * With `keepFailures`: where records go that still fail after `parkAfterAttempts` deliveries,
   * instead of back on the dead-letter queue. Without it they circle (logged) until Kafka takes
   * them.
   */
  parking?: DeadLetterParking;
  /** Default DEFAULT_PARK_AFTER_ATTEMPTS. */
  parkAfterAttempts?: number;
}

type RecordState = "pending" | "produced" | "failed" | "dropped";

/** One queue message being consumed: its records and what became of each. */
interface Delivery {
  message: QueueMessageLike;
  /** A bundle can be partly produced; a single-record body cannot. */
  bundle: boolean;
  /** Deliveries of its records so far, this one included (earlier messages' and this message's). */
  attempts: number;
  records: IngestMessage[];
  states: RecordState[];
  failure?: { topic: string; retryable: boolean; reason: string };
}

/**
 * Per message: every record produced (or dropped) → ack; none produced → `retry` with backoff,
 * and after max_retries the queue moves the message, whole bundle included, to the dead-letter
 * queue, so nothing accepted is lost. A bundle produced in part is not redelivered (that would
 * produce its produced records again): its failed records go back on the queue as a new bundle,
 * after the same backoff, and the message is acked. If that send fails, the message is retried
 * whole and its produced records reach Kafka twice; the stream processor deduplicates events by
 * (tenant, event_name, event_id) and predictions by prediction id, so nothing is counted twice.
 *
 * A re-enqueued bundle carries the deliveries its records already had (`attempts`), so the
 * backoff keeps growing across re-enqueues, and once they reach max_retries a partial failure is
 * retried whole instead of re-enqueued: the queue's own count then takes the message to the
 * dead-letter queue. (Each re-enqueue also drops at least one produced record, so a bundle could
 * not circle forever even without the cap.)
 *
 * The dead-letter queue is read by the same consumer with `keepFailures`: there the queue's
 * max_retries would drop a message for good, so what still fails is put back on the dead-letter
 * queue instead, with a longer backoff, until Kafka takes it.
 */
export async function consumeIngestBatch(
  messages: readonly QueueMessageLike[],
  deps: ConsumeIngestDeps,
): Promise<ConsumeResult> {
  const names = topicNames(deps.topicPrefix);
  const byTopic = new Map<string, { delivery: Delivery; index: number; record: ProduceRecord }[]>();
  const result: ConsumeResult = { produced: 0, retried: 0, requeued: 0, dropped: 0, parked: 0 };
  const deliveries: Delivery[] = [];

  for (const message of messages) {
    // Event bundles arrive as JSON text, model notices as objects (see IngestQueueBody).
    const body = parseIngestQueueBody(message.body);
    if (body.kind === "malformed") {
      // A body the Worker itself never produces; retrying cannot fix it.
      deps.log?.({
        level: "error",
        msg: "dropping malformed ingest message",
        id: message.id,
        reason: body.reason,
      });
      message.ack();
      result.dropped += 1;
      continue;
    }
    if (body.kind === "bundle" && body.malformed.length > 0) {
      deps.log?.({
        level: "error",
        msg: "dropping malformed records of an ingest bundle",
        id: message.id,
        records: body.malformed.length,
        first: body.malformed[0],
      });
      result.dropped += body.malformed.length;
    }
    const records = body.kind === "bundle" ? body.records : [body.message];
    const delivery: Delivery = {
      message,
      bundle: body.kind === "bundle",
      attempts: (body.kind === "bundle" ? body.attempts : 0) + message.attempts,
      records,
      states: records.map(() => "pending"),
    };
    deliveries.push(delivery);

    for (const [index, record] of records.entries()) {
      const topic = names[record.topic];
      const expander = deps.expanders?.[record.topic];
      let produce: ProduceRecord = {
        key: record.key,
        value: record.value,
        headers: record.headers,
      };
      if (expander !== undefined) {
        // One at a time, in order: expanded records can be large (up to ~1 MB each).
        const expanded = await expandOne(expander, message, record, deps.log);
        if (expanded.kind === "drop") {
          delivery.states[index] = "dropped";
          result.dropped += 1;
          continue;
        }
        if (expanded.kind === "fail") {
          delivery.states[index] = "failed";
          delivery.failure ??= {
            topic,
            retryable: expanded.retryable,
            reason: expanded.reason,
          };
          continue;
        }
        produce = expanded.record;
      }
      const group = byTopic.get(topic) ?? [];
      group.push({ delivery, index, record: produce });
      byTopic.set(topic, group);
    }
  }

  // Topics are produced at the same time: the sink bounds its requests in flight across all of
  // them, and records of different topics have no order to keep.
  await Promise.all(
    [...byTopic].map(async ([topic, group]) => {
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
      group.forEach(({ delivery, index }, i) => {
        const outcome = outcomes[i] ?? {
          ok: false,
          retryable: true,
          message: "no outcome returned",
        };
        if (outcome.ok) {
          delivery.states[index] = "produced";
          result.produced += 1;
        } else {
          delivery.states[index] = "failed";
          delivery.failure ??= { topic, retryable: outcome.retryable, reason: outcome.message };
        }
      });
    }),
  );

  // One message's failure to settle must not fail the invocation: the queue would then redeliver
  // every unacked message of the batch and count it against its max_retries (for the dead-letter
  // queue, a loss). Such a message alone is retried.
  const settled = await Promise.allSettled(
    deliveries.map((delivery) => settle(delivery, deps, result)),
  );
  settled.forEach((outcome, i) => {
    if (outcome.status === "fulfilled") return;
    const { message } = deliveries[i]!;
    deps.log?.({
      level: "error",
      msg: "settling a message failed; it will be redelivered",
      id: message.id,
      error: outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason),
    });
    try {
      message.retry();
      result.retried += 1;
    } catch {
      // Already acked or retried: the queue has its answer.
    }
  });
  return result;
}

/** Acks, retries or re-enqueues the rest of one message once its records were produced or not. */
async function settle(
  delivery: Delivery,
  deps: ConsumeIngestDeps,
  result: ConsumeResult,
): Promise<void> {
  const { message } = delivery;
  const failed = delivery.records.filter((_, i) => delivery.states[i] === "failed");
  if (failed.length === 0) {
    message.ack();
    return;
  }
  const produced = delivery.states.filter((s) => s === "produced").length;
  const delaySeconds = retryDelaySeconds(delivery.attempts, deps.maxRetryDelaySeconds);
  const retryWhole = (msg: string, extra: Record<string, unknown> = {}) => {
    // Non-retryable failures are retried too: the queue's max_retries then moves them to the
    // dead-letter queue, where nothing accepted is lost.
    deps.log?.({
      level: "warn",
      msg,
      id: message.id,
      attempts: delivery.attempts,
      ...(delivery.bundle ? { failed: failed.length, of: delivery.records.length } : {}),
      ...delivery.failure,
      ...extra,
    });
    message.retry({ delaySeconds });
    result.retried += 1;
  };

  const maxRetries = deps.maxRetries ?? DEFAULT_MAX_RETRIES;
  const keep = deps.keepFailures === true && deps.requeue !== undefined;
  if (!keep && (!delivery.bundle || produced === 0)) {
    retryWhole("produce failed; message will be redelivered");
    return;
  }
  if (deps.requeue === undefined || (!keep && delivery.attempts > maxRetries)) {
    retryWhole("bundle produced in part; redelivered whole (produced records may repeat)", {
      produced,
    });
    return;
  }
  if (
    keep &&
    deps.parking !== undefined &&
    delivery.attempts >= (deps.parkAfterAttempts ?? DEFAULT_PARK_AFTER_ATTEMPTS)
  ) {
    const reason = delivery.failure?.reason ?? "produce failed";
    try {
      await deps.parking.park({
        id: message.id,
        attempts: delivery.attempts,
        reason,
        bundleText: ingestBundleText(
          failed.map((record) => JSON.stringify(record)),
          delivery.attempts,
        ),
      });
      deps.log?.({
        level: "error",
        msg: "dead-lettered records parked after too many deliveries; queue them again once the cause is fixed",
        id: message.id,
        attempts: delivery.attempts,
        produced,
        parked: failed.length,
        ...delivery.failure,
      });
      message.ack();
      result.parked += failed.length;
      return;
    } catch (err) {
      deps.log?.({
        level: "error",
        msg: "parking dead-lettered records failed; they go back on the dead-letter queue",
        id: message.id,
        parkError: err instanceof Error ? err.message : String(err),
      });
    }
  }
  try {
    await deps.requeue.requeue(
      ingestBundleText(
        failed.map((record) => JSON.stringify(record)),
        delivery.attempts,
      ),
      { delaySeconds },
    );
  } catch (err) {
    retryWhole(
      keep
        ? "failed records could not be put back on the dead-letter queue; message will be redelivered"
        : "bundle produced in part and its rest could not be re-enqueued; redelivered whole",
      {
        produced,
        requeueError: err instanceof Error ? err.message : String(err),
      },
    );
    return;
  }
  deps.log?.({
    level: keep ? "error" : "warn",
    msg: keep
      ? "dead-lettered records still cannot be produced; put back on the dead-letter queue"
      : "bundle produced in part; the rest re-enqueued",
    id: message.id,
    attempts: delivery.attempts,
    produced,
    requeued: failed.length,
    delaySeconds,
    ...delivery.failure,
  });
  message.ack();
  result.requeued += failed.length;
}

/** Runs an expander and logs what it could not expand (a throw becomes a retryable failure). */
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
      msg: "dropping a record that cannot be expanded",
      id: message.id,
      topic: body.topic,
      reason: expanded.reason,
    });
  } else if (expanded.kind === "fail") {
    log?.({
      level: "warn",
      msg: "expanding failed; the record will be tried again",
      id: message.id,
      topic: body.topic,
      attempts: message.attempts,
      retryable: expanded.retryable,
      reason: expanded.reason,
    });
  }
  return expanded;
}
