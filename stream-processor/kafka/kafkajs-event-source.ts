/** EventSource on a kafkajs consumer group: eachBatch, no auto-commit, positions taken from the store. */
import type { Admin, Batch, Consumer, EachBatchPayload, IHeaders, Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { BatchHandler, EventSource, SourceBatch, SourceRecord } from "../ports/event-source";

export interface KafkajsEventSourceOptions {
  kafka: Kafka;
  groupId: string;
  topics: readonly string[];
  /** Where a partition without any stored or committed offset starts. */
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  maxWaitMs: number;
  partitionsConcurrency: number;
  lagPollIntervalMs: number;
  /** The store's next offsets: the source of truth for where each partition resumes. */
  loadNextOffsets: (topic: string, partitions: readonly number[]) => Promise<Map<number, string>>;
  /** Called after every (re)join of the group; batches of the new assignment wait for it. */
  onAssignment?: () => Promise<void>;
  log: Logger;
  observer: SourceObserver;
}

export interface SourceObserver {
  /** Records between the committed position and the partition end. */
  lag(topic: string, partition: number, lag: number): void;
  /** The assignment changed: forget per-partition series of partitions no longer owned. */
  assignmentChanged(owned: ReadonlyMap<string, readonly number[]>): void;
  /** Records lost to retention before they could be processed. */
  skippedByRetention(topic: string, partition: number, count: number): void;
}

/** Kafka group commits are only a hint for tooling (kafka-consumer-groups); at most one per this, ms. */
const GROUP_COMMIT_INTERVAL_MS = 5_000;

/**
 * Exactly-once protocol, per partition:
 * 1. The first batch after every (re)assignment loads the store's next offset. If the batch was
 *    fetched from any other position (Kafka's group offset is only a hint), the consumer seeks
 *    to the stored offset and the batch is dropped unprocessed.
 * 2. The handler commits the results with a compare-and-set from that offset to the batch end.
 * 3. Only then is the position advanced in kafkajs (resolveOffset), and the group offset hinted.
 * A fenced commit (another member advanced the offset) re-reads the stored offset and seeks.
 */
export class KafkajsEventSource implements EventSource {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  /** Stored next offset per `topic:partition`, as this member last knew it (null: none stored). */
  private readonly expected = new Map<string, string | null>();
  private readonly lastGroupCommitMs = new Map<string, number>();
  private owned = new Map<string, number[]>();
  private healthy = false;
  private stopping = false;
  private lagTimer: NodeJS.Timeout | undefined;
  private adminConnected: Promise<void> | undefined;

  constructor(private readonly options: KafkajsEventSourceOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: options.maxBytes,
      maxWaitTimeInMs: options.maxWaitMs,
      allowAutoTopicCreation: false,
      // Restart after a crash (e.g. broker gone for longer than kafkajs' retries).
      retry: { retries: 10, restartOnFailure: async () => !this.stopping },
    });
    this.admin = options.kafka.admin();
    const { GROUP_JOIN, CRASH, STOP, CONNECT, DISCONNECT } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (event) => {
      this.expected.clear();
      this.owned = new Map(
        Object.entries(event.payload.memberAssignment).map(([t, ps]) => [t, [...ps]]),
      );
      this.healthy = true;
      options.observer.assignmentChanged(this.owned);
      options.log.info({ assignment: event.payload.memberAssignment }, "joined consumer group");
    });
    this.consumer.on(CONNECT, () => {
      this.healthy = true;
    });
    this.consumer.on(CRASH, (event) => {
      this.healthy = false;
      options.log.error(
        { err: event.payload.error, restart: event.payload.restart },
        "consumer crashed",
      );
    });
    this.consumer.on(STOP, () => {
      this.healthy = false;
    });
    this.consumer.on(DISCONNECT, () => {
      this.healthy = false;
    });
  }

  isHealthy(): boolean {
    return this.healthy && !this.stopping;
  }

  async start(handler: BatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.options.topics],
      fromBeginning: this.options.fromBeginning,
    });
    // Every (re)join reloads assignment-wide state; batches wait for it. A failed reload is
    // logged and not fatal: the state it refreshes (watermarks) only sharpens late counting.
    let assignmentReady: Promise<void> = Promise.resolve();
    const { onAssignment } = this.options;
    if (onAssignment !== undefined) {
      this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        assignmentReady = onAssignment().catch((error: unknown) =>
          this.options.log.warn({ err: error }, "reloading state after a rebalance failed"),
        );
      });
    }
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrency,
      eachBatch: async (payload) => {
        await assignmentReady;
        await this.onBatch(payload, handler);
      },
    });
    if (this.options.lagPollIntervalMs > 0) {
      this.lagTimer = setInterval(() => {
        this.pollLag().catch((error: unknown) =>
          this.options.log.debug({ err: error }, "lag poll failed"),
        );
      }, this.options.lagPollIntervalMs);
      this.lagTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.lagTimer !== undefined) clearInterval(this.lagTimer);
    // kafkajs' stop waits for the batch in hand; our handler sees isRunning() = false and
    // gives up only retries, never a commit that is under way.
    await this.consumer.stop();
    await this.consumer.disconnect();
    if (this.adminConnected !== undefined) await this.admin.disconnect().catch(() => {});
  }

  private async onBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset } = payload;
    if (!isRunning() || isStale()) return;
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    let expected = this.expected.get(tp);
    if (expected === undefined) {
      const stored = await this.options.loadNextOffsets(topic, [partition]);
      expected = stored.get(partition) ?? null;
      this.expected.set(tp, expected);
    }
    // kafkajs 2.2.4 keeps the offset the batch was fetched from on the Batch object (not in
    // its typings); it tells whether the fetch position agrees with the store.
    const fetched = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
    let firstAllowed = expected;
    if (expected !== null && fetched !== undefined && fetched !== expected) {
      // Resume at the stored offset, or at the log start if retention already deleted it.
      let target = expected;
      if (BigInt(fetched) > BigInt(expected)) {
        const logStart = await this.logStartOffset(topic, partition);
        if (logStart !== undefined && BigInt(logStart) > BigInt(expected)) target = logStart;
      }
      if (fetched !== target) {
        this.options.log.info(
          { topic, partition, fetched, stored: expected },
          "seeking to the stored offset",
        );
        this.consumer.seek({ topic, partition, offset: target });
        return;
      }
      // Those records no longer exist anywhere; say so loudly and continue from the log start.
      const lost = Number(BigInt(target) - BigInt(expected));
      this.options.observer.skippedByRetention(topic, partition, lost);
      this.options.log.error(
        { topic, partition, stored: expected, logStart: target, lost },
        "records were deleted by retention before they were processed",
      );
      firstAllowed = target;
    }
    const records: SourceRecord[] = [];
    for (const m of batch.messages) {
      if (firstAllowed !== null && BigInt(m.offset) < BigInt(firstAllowed)) continue;
      records.push({
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: headersToStrings(m.headers),
        timestampMs: Number(m.timestamp),
      });
    }
    const lastOffset = batch.lastOffset();
    const nextOffset = (BigInt(lastOffset) + 1n).toString();
    const sourceBatch: SourceBatch = {
      topic,
      partition,
      records,
      expectedNextOffset: expected,
      nextOffset,
      highWatermark: batch.highWatermark,
    };
    const outcome = await handler(sourceBatch, {
      heartbeat,
      isRunning: () => isRunning() && !this.stopping,
    });
    switch (outcome.kind) {
      case "committed": {
        this.expected.set(tp, nextOffset);
        resolveOffset(lastOffset);
        this.options.observer.lag(
          topic,
          partition,
          Number(BigInt(batch.highWatermark) - BigInt(nextOffset)),
        );
        await this.hintGroupOffset(payload, tp, nextOffset);
        return;
      }
      case "fenced": {
        this.expected.delete(tp);
        if (outcome.storedNextOffset !== null) {
          this.consumer.seek({ topic, partition, offset: outcome.storedNextOffset });
        }
        return;
      }
      case "abandoned":
        return;
    }
  }

  /** Offset of the partition's first retained record. */
  private async logStartOffset(topic: string, partition: number): Promise<string | undefined> {
    await this.connectAdmin();
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.find((o) => o.partition === partition)?.low;
  }

  private async hintGroupOffset(
    payload: EachBatchPayload,
    tp: string,
    nextOffset: string,
  ): Promise<void> {
    const now = Date.now();
    if (now - (this.lastGroupCommitMs.get(tp) ?? 0) < GROUP_COMMIT_INTERVAL_MS) return;
    this.lastGroupCommitMs.set(tp, now);
    try {
      await payload.commitOffsetsIfNecessary({
        topics: [
          {
            topic: payload.batch.topic,
            partitions: [{ partition: payload.batch.partition, offset: nextOffset }],
          },
        ],
      });
    } catch (error) {
      this.options.log.debug({ err: error, tp }, "group offset hint failed (harmless)");
    }
  }

  private async connectAdmin(): Promise<void> {
    this.adminConnected ??= this.admin.connect().catch((error: unknown) => {
      this.adminConnected = undefined;
      throw error;
    });
    await this.adminConnected;
  }

  /** Lag of owned partitions from the brokers' end offsets and the last stored positions. */
  private async pollLag(): Promise<void> {
    if (this.owned.size === 0) return;
    await this.connectAdmin();
    for (const [topic, partitions] of this.owned) {
      const ends = await this.admin.fetchTopicOffsets(topic);
      for (const partition of partitions) {
        const position = this.expected.get(`${topic}:${partition}`);
        const end = ends.find((o) => o.partition === partition)?.high;
        if (position === undefined || end === undefined) continue;
        const start = position ?? ends.find((o) => o.partition === partition)?.low ?? "0";
        this.options.observer.lag(topic, partition, Number(BigInt(end) - BigInt(start)));
      }
    }
  }
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}
