/** EventSource on a kafkajs consumer group: eachBatch, no auto-commit, positions taken from the store. */
import type { Admin, Batch, Consumer, EachBatchPayload, IHeaders, Kafka } from "kafkajs";
import type { Logger } from "pino";
import type {
  BatchHandler,
  BatchOutcome,
  EventSource,
  SourceBatch,
  SourceRecord,
} from "./event-source";

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

interface InFlight {
  nextOffset: string;
  /** "superseded": not attempted because an earlier batch of the partition was not committed. */
  outcome: Promise<BatchOutcome | { kind: "superseded" }>;
}

/**
 * Batches of one partition that may be prepared (decoded) but not yet committed. Two lets kafkajs
 * fetch and the processor decode the next batch while the database commits the previous ones;
 * more would only hold more memory, as commits of one partition run one after another anyway.
 */
const MAX_UNCOMMITTED_PER_PARTITION = 2;

/** Kafka group commits are only a hint for tooling (kafka-consumer-groups); at most one per this, ms. */
const GROUP_COMMIT_INTERVAL_MS = 5_000;

/**
 * Exactly-once protocol, per partition:
 * 1. The first batch after every (re)assignment loads the store's next offset. If the batch was
 *    fetched from any other position (Kafka's group offset is only a hint), the consumer seeks
 *    to the stored offset and the batch is dropped unprocessed.
 * 2. The handler prepares the batch (decode, dead letters); its commit (results + compare-and-set
 *    of the offset, from the previous batch's end to this one's) starts once the previous batch
 *    of the partition committed, and kafkajs fetches the next batches meanwhile (pipelining, at
 *    most MAX_UNCOMMITTED_PER_PARTITION batches ahead of the store).
 * 3. A fenced or abandoned commit moves kafkajs back to the stored offset; the batches after it
 *    are dropped unprocessed and fetched again. Kafka's group offset is hinted after commits.
 */
export class KafkajsEventSource implements EventSource {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  /** Stored next offset per `topic:partition`, as this member last knew it (null: none stored). */
  private readonly expected = new Map<string, string | null>();
  private readonly lastGroupCommitMs = new Map<string, number>();
  /** Per partition, the batches handed over but not yet settled, oldest first. */
  private readonly inFlight = new Map<string, InFlight[]>();
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
    // kafkajs' stop waits for the batch in hand; then the commits under way finish. Our handler
    // sees isRunning() = false and gives up only retries, never a commit that is under way.
    await this.consumer.stop();
    await Promise.all([...this.inFlight.values()].flat().map((e) => e.outcome));
    await this.consumer.disconnect();
    if (this.adminConnected !== undefined) await this.admin.disconnect().catch(() => {});
  }

  private async onBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset } = payload;
    if (!isRunning() || isStale()) return;
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    // The previous batch of this partition may still be committing: this one continues from it.
    const chain = this.inFlight.get(tp) ?? [];
    const previous = chain[chain.length - 1];
    let expected = previous?.nextOffset ?? this.expected.get(tp);
    if (expected === undefined) {
      const stored = await this.loadNextOffset(topic, partition, payload);
      if (stored === undefined) return; // stopping
      expected = stored;
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
    // Offsets increase within a batch: once one is allowed, all that follow are.
    const from = firstAllowed === null ? null : BigInt(firstAllowed);
    let skipping = from !== null;
    for (const m of batch.messages) {
      if (skipping) {
        if (BigInt(m.offset) < (from as bigint)) continue;
        skipping = false;
      }
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
    const control = { heartbeat, isRunning: () => isRunning() && !this.stopping };
    // Decoding this batch overlaps with the commits of the previous ones.
    const commit = await handler(sourceBatch, control);
    const oldest = chain[0];
    if (chain.length >= MAX_UNCOMMITTED_PER_PARTITION && oldest !== undefined) await oldest.outcome;
    // An outcome never rejects (commit errors become "abandoned", settle catches its own), so a
    // partition's chain always drains: a rejected link would hold the partition forever.
    const entry: InFlight = {
      nextOffset,
      outcome: (async () => {
        // Commits of a partition are chained: each starts from where the previous one ended.
        if (previous !== undefined && (await previous.outcome).kind !== "committed") {
          return { kind: "superseded" as const };
        }
        return commit().catch((error: unknown): BatchOutcome => {
          // A rebalance (throwing heartbeat) or anything unexpected: not committed, fetch it again.
          this.options.log.warn(
            { err: error, topic, partition },
            "batch not committed; it will be fetched again",
          );
          return { kind: "abandoned" };
        });
      })().then((outcome) => {
        try {
          this.settle(tp, entry, sourceBatch, outcome);
        } catch (error) {
          // Forget the partition's position: its next batch reloads it from the store.
          this.inFlight.delete(tp);
          this.expected.delete(tp);
          this.options.log.error({ err: error, topic, partition }, "settling a batch failed");
        }
        return outcome;
      }),
    };
    chain.push(entry);
    this.inFlight.set(tp, chain);
    // kafkajs may fetch the next batch now; the store still decides what is committed.
    resolveOffset(lastOffset);
  }

  /**
   * The store's next offset for a partition (null: none stored), retried while the store is
   * unavailable (heartbeating, so the group keeps the partition); undefined once stopping.
   */
  private async loadNextOffset(
    topic: string,
    partition: number,
    payload: EachBatchPayload,
  ): Promise<string | null | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const stored = await this.options.loadNextOffsets(topic, [partition]);
        return stored.get(partition) ?? null;
      } catch (error) {
        if (!payload.isRunning() || this.stopping) return undefined;
        const delayMs = Math.min(
          this.options.sessionTimeoutMs / 3,
          250 * 2 ** Math.min(attempt, 6),
        );
        this.options.log.warn(
          { err: error, topic, partition, attempt, delayMs },
          "cannot read the stored offset; retrying",
        );
        await payload.heartbeat();
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  /** After a commit: remember the new position, or move kafkajs back to where the store is. */
  private settle(
    tp: string,
    entry: InFlight,
    batch: SourceBatch,
    outcome: BatchOutcome | { kind: "superseded" },
  ): void {
    const chain = this.inFlight.get(tp);
    if (chain !== undefined) {
      const at = chain.indexOf(entry);
      if (at >= 0) chain.splice(at, 1);
      if (chain.length === 0 && this.inFlight.get(tp) === chain) this.inFlight.delete(tp);
    }
    const { topic, partition } = batch;
    switch (outcome.kind) {
      case "committed":
        this.expected.set(tp, batch.nextOffset);
        this.options.observer.lag(
          topic,
          partition,
          Number(BigInt(batch.highWatermark) - BigInt(batch.nextOffset)),
        );
        this.hintGroupOffset(topic, partition, batch.nextOffset);
        return;
      case "fenced":
        // Batches chained after this one will be superseded; new ones start from the store.
        this.inFlight.delete(tp);
        this.expected.delete(tp);
        if (outcome.storedNextOffset !== null) {
          this.seekTo(topic, partition, outcome.storedNextOffset);
        }
        return;
      case "superseded":
        // The earlier batch that failed already moved the position back to before this one.
        return;
      case "abandoned":
        this.inFlight.delete(tp);
        this.expected.delete(tp);
        if (!this.stopping && batch.expectedNextOffset !== null) {
          this.seekTo(topic, partition, batch.expectedNextOffset);
        }
        return;
    }
  }

  /**
   * Moves kafkajs' fetch position. kafkajs refuses while it restarts after a crash (it has no
   * consumer group then); the restarted consumer fetches from Kafka's group offset, and the
   * partition's first batch is then compared with the store and re-positioned as at any start.
   */
  private seekTo(topic: string, partition: number, offset: string): void {
    try {
      this.consumer.seek({ topic, partition, offset });
    } catch (error) {
      this.options.log.warn(
        { err: error, topic, partition, offset },
        "cannot seek now; the partition's next batch re-reads the stored offset",
      );
    }
  }

  /** Offset of the partition's first retained record. */
  private async logStartOffset(topic: string, partition: number): Promise<string | undefined> {
    await this.connectAdmin();
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.find((o) => o.partition === partition)?.low;
  }

  /** Kafka's group offset is only a hint for tooling; at most one commit per partition per interval. */
  private hintGroupOffset(topic: string, partition: number, nextOffset: string): void {
    const tp = `${topic}:${partition}`;
    const now = Date.now();
    if (now - (this.lastGroupCommitMs.get(tp) ?? 0) < GROUP_COMMIT_INTERVAL_MS) return;
    this.lastGroupCommitMs.set(tp, now);
    this.consumer
      .commitOffsets([{ topic, partition, offset: nextOffset }])
      .catch((error: unknown) =>
        this.options.log.debug({ err: error, tp }, "group offset hint failed (harmless)"),
      );
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

/** Shared by every record without headers (most of them): one object less per record. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function headersToStrings(headers: IHeaders | undefined): Readonly<Record<string, string>> {
  let out: Record<string, string> | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    out ??= {};
    out[name] = last.toString();
  }
  return out ?? NO_HEADERS;
}
