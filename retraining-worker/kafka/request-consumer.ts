/**
 * Consumes `retrain-requests` in the worker's own group with exactly-once effect, the stream
 * processor's way: a batch's jobs and the partition's next offset are written in one Postgres
 * transaction (compare-and-set on `consumer_offsets`), and a partition resumes from the stored
 * offset whatever Kafka's group offset says. A value that is not a request goes to the
 * dead-letter topic with its reason, and the offset moves past it.
 */
import type { Batch, Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import type { Logger } from "pino";
import { ADVANCE_OFFSET_SQL, READ_OFFSET_SQL, resumeDecision } from "#core/offsets";
import { decodeRetrainRequest } from "#core/retraining";
import { type Pool, withTransaction } from "../db/create-pool";
import type { ConsumedRequest, RetrainingStore } from "../db/retraining-store";

export interface RequestConsumerOptions {
  kafka: Kafka;
  pool: Pool;
  store: RetrainingStore;
  topic: string;
  deadLetterTopic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  log: Logger;
  /** Called after a batch opened jobs, so the runner looks at once. */
  onOpened: (count: number) => void;
}

export class RequestConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  /** Stored next offset per partition as this member last knew it (null: none stored). */
  private readonly expected = new Map<number, string | null>();
  private healthy = false;
  private stopping = false;

  constructor(private readonly options: RequestConsumerOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      retry: { retries: 10, restartOnFailure: async () => !this.stopping },
    });
    this.producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, () => {
      this.expected.clear();
      this.healthy = true;
    });
    this.consumer.on(CRASH, (event) => {
      this.healthy = false;
      options.log.error({ err: event.payload.error }, "retrain-requests consumer crashed");
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

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.consumer.stop().catch(() => {});
    await this.consumer.disconnect().catch(() => {});
    await this.producer.disconnect().catch(() => {});
  }

  private async storedOffset(partition: number): Promise<string | null> {
    const { rows } = await this.options.pool.query<{ next_offset: string }>(READ_OFFSET_SQL, [
      this.options.groupId,
      this.options.topic,
      partition,
    ]);
    return rows[0]?.next_offset ?? null;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, resolveOffset, heartbeat } = payload;
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    let expected = this.expected.get(partition);
    if (expected === undefined) {
      expected = await this.storedOffset(partition);
      this.expected.set(partition, expected);
    }
    // kafkajs keeps the offset a batch was fetched from on the Batch (not in its typings).
    const fetched = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
    const decision = resumeDecision({ stored: expected, fetched });
    if (decision.kind === "seek") {
      this.options.log.info(
        { partition, fetched, stored: expected },
        "seeking to the stored offset",
      );
      this.consumer.seek({ topic, partition, offset: decision.offset });
      return;
    }
    const from = decision.from === null ? null : BigInt(decision.from);
    const messages = batch.messages.filter((m) => from === null || BigInt(m.offset) >= from);
    if (messages.length === 0) return;
    const requests: ConsumedRequest[] = [];
    const refused: { value: Buffer | null; key: Buffer | null; reason: string; offset: string }[] =
      [];
    for (const m of messages) {
      const decoded = decodeRetrainRequest(m.value?.toString("utf8"));
      if (decoded.ok) {
        const r = decoded.request;
        requests.push({
          tenant: r.tenant,
          requestId: r.requestId,
          model: r.model,
          version: r.version,
          policy: r.policy,
          evidence: { reasons: r.reasons, ...r.evidence },
          requestedAtMs: Date.parse(r.requestedAt),
        });
      } else {
        refused.push({ value: m.value, key: m.key, reason: decoded.reason, offset: m.offset });
      }
    }
    if (refused.length > 0) {
      // Dead letters go out before the offset moves past them: a crash in between sends them
      // again (at least once), never loses one.
      await this.producer.send({
        topic: this.options.deadLetterTopic,
        acks: -1,
        messages: refused.map((r) => ({
          key: r.key,
          value: r.value,
          headers: {
            "driftline-reason": r.reason,
            "driftline-source-topic": topic,
            "driftline-source-partition": String(partition),
            "driftline-source-offset": r.offset,
          },
        })),
      });
      this.options.log.warn(
        { partition, refused: refused.map((r) => ({ offset: r.offset, reason: r.reason })) },
        "retraining requests refused to the dead-letter topic",
      );
    }
    const last = messages[messages.length - 1]!.offset;
    const next = (BigInt(last) + 1n).toString();
    const outcome = await withTransaction(this.options.pool, async (tx) => {
      const opened = await this.options.store.openJobs(tx, requests);
      const moved = await tx.query(ADVANCE_OFFSET_SQL, [
        this.options.groupId,
        topic,
        partition,
        expected,
        next,
      ]);
      if ((moved.rowCount ?? 0) !== 1) throw new FencedError();
      return opened;
    }).catch(async (error: unknown) => {
      if (!(error instanceof FencedError)) throw error;
      // Another member moved the partition on: resume from what the store holds.
      const stored = await this.storedOffset(partition);
      this.expected.set(partition, stored);
      if (stored !== null) this.consumer.seek({ topic, partition, offset: stored });
      return undefined;
    });
    if (outcome === undefined) return;
    this.expected.set(partition, next);
    resolveOffset(last);
    // Kafka's group offset is only a hint (the store wins); kept close for lag tools.
    await this.consumer
      .commitOffsets([{ topic, partition, offset: next }])
      .catch((error: unknown) =>
        this.options.log.debug({ err: error }, "group offset hint failed"),
      );
    await heartbeat();
    if (outcome > 0) this.options.onOpened(outcome);
  }
}

class FencedError extends Error {}
