/** The gateway's producer port, and its kafkajs adapter (idempotent producer, per-record offsets). */
import {
  Kafka,
  type KafkaConfig,
  logLevel,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from "kafkajs";
import {
  DependencyUnavailableError,
  DriftlineError,
  isDriftlineError,
  NotFoundError,
  ValidationError,
} from "#core/errors";

export interface OutgoingRecord {
  /** Explicit partition; otherwise Kafka's default partitioner (murmur2 of the key, like Java). */
  partition?: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  /** In request order; a null value is a Kafka null header value. */
  headers: Array<{ name: string; value: Buffer | null }>;
  timestampMs: number;
}

export interface DeliveredRecord {
  partition: number;
  offset: number;
  /** The record's timestamp as stored: ours (CreateTime), or the broker's (LogAppendTime topics). */
  timestampMs: number;
}

/** What the gateway needs from Kafka. Errors thrown are DriftlineErrors (see `toDriftlineError`). */
export interface RecordProducer {
  /** Produces all records in one request; resolves in input order once every record is acked. */
  produce(topic: string, records: OutgoingRecord[]): Promise<DeliveredRecord[]>;
  /** True when the cluster answers now. Never throws. */
  ready(): Promise<boolean>;
  /** The Kafka cluster id, once a connection has been made. */
  clusterId(): string | undefined;
  close(): Promise<void>;
}

export interface KafkajsRecordProducerOptions {
  brokers: string[];
  /** kafkajs client settings besides brokers (ssl, sasl, clientId). */
  kafka?: Omit<KafkaConfig, "brokers">;
  /** Upper bound for one produce, connect included, ms. Default 10 000. */
  sendTimeoutMs?: number;
  /** How long a topic's partition list is reused before it is fetched again, ms. Default 30 000. */
  metadataMaxAgeMs?: number;
}

/** Records waiting for the next Kafka produce request, with the HTTP request that sent them. */
interface PendingProduce {
  topic: string;
  messages: Message[];
  bytes: number;
  resolve: (placed: Array<{ partition: number; offset: number; logAppendTimeMs: number }>) => void;
  reject: (err: unknown) => void;
}

/** A combined produce request stays well under the broker's default 1 MiB per record batch. */
const MAX_COMBINED_BYTES = 512 * 1024;

/**
 * kafkajs behind the port. The producer is idempotent with one request in flight (no
 * duplicates or reordering from its own retries). Partitions are chosen here with kafkajs'
 * Java-compatible partitioner rather than inside `send`, so each record's offset can be
 * reported: within one produce request, records of a partition get consecutive offsets from
 * the partition's base offset, in the order sent.
 *
 * With one request in flight, each HTTP request waiting for its own Kafka round trip caps
 * throughput at one round trip per request. So HTTP requests that arrive while a produce is in
 * flight are combined into the next one (group commit): an idle gateway sends at once, a busy
 * one sends everything that queued up in one request. If a combined request fails with a
 * non-retriable error, its parts are re-sent one by one, so one bad request cannot fail others.
 */
export class KafkajsRecordProducer implements RecordProducer {
  private readonly producer: Producer;
  private readonly admin: ReturnType<Kafka["admin"]>;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, { partitions: PartitionMetadata[]; atMs: number }>();
  private readonly sendTimeoutMs: number;
  private readonly metadataMaxAgeMs: number;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private knownClusterId: string | undefined;
  private lastReady: { atMs: number; ok: boolean } | undefined;
  private readonly queue: PendingProduce[] = [];
  private draining = false;

  constructor(options: KafkajsRecordProducerOptions) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 30_000;
    const kafka = new Kafka({
      clientId: "driftline-kafka-rest-gateway",
      logLevel: logLevel.NOTHING,
      // Fail fast when the broker is away: the HTTP caller (a queue) owns the retrying.
      connectionTimeout: 2_000,
      requestTimeout: 8_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      ...options.kafka,
      brokers: options.brokers,
    });
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = kafka.admin();
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connected = false;
    });
  }

  clusterId(): string | undefined {
    return this.knownClusterId;
  }

  async ready(): Promise<boolean> {
    // Readiness probes may come often; one cluster round trip per second is plenty.
    const now = Date.now();
    if (this.lastReady && now - this.lastReady.atMs < 1_000) return this.lastReady.ok;
    let ok = false;
    try {
      await withTimeout(this.connect(), 3_000, "connect");
      const cluster = await withTimeout(this.admin.describeCluster(), 3_000, "describeCluster");
      this.knownClusterId = cluster.clusterId;
      ok = cluster.brokers.length > 0;
    } catch {
      ok = false;
    }
    this.lastReady = { atMs: Date.now(), ok };
    return ok;
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<DeliveredRecord[]> {
    try {
      return await withTimeout(
        this.produceUnbounded(topic, records),
        this.sendTimeoutMs,
        "produce",
      );
    } catch (err) {
      const mapped = toDriftlineError(err, topic);
      if (mapped.code === "NOT_FOUND") this.metadata.delete(topic);
      throw mapped;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
    this.connected = false;
  }

  private async produceUnbounded(topic: string, records: OutgoingRecord[]) {
    await this.connect();
    const partitions = await this.partitionsOf(topic);
    const known = new Set(partitions.map((p) => p.partitionId));
    const messages: Message[] = records.map((r) => {
      const base: Message = {
        key: r.key,
        value: r.value,
        headers: toKafkajsHeaders(r.headers),
        timestamp: String(r.timestampMs),
      };
      let partition = r.partition;
      if (partition === undefined) {
        partition = this.partitioner({ topic, partitionMetadata: partitions, message: base });
      } else if (!known.has(partition)) {
        throw new NotFoundError(
          `Partition ${partition} does not exist in topic ${topic} (it has ${partitions.length}).`,
          { context: { topic, partition } },
        );
      }
      return { ...base, partition };
    });

    const placed = await new Promise<
      Array<{ partition: number; offset: number; logAppendTimeMs: number }>
    >((resolve, reject) => {
      const bytes = messages.reduce(
        (sum, m) => sum + (m.value?.length ?? 0) + ((m.key as Buffer | null)?.length ?? 0),
        0,
      );
      this.queue.push({ topic, messages, bytes, resolve, reject });
      void this.drain();
    });
    return placed.map((p, i) => ({
      partition: p.partition,
      offset: p.offset,
      timestampMs: p.logAppendTimeMs >= 0 ? p.logAppendTimeMs : records[i]!.timestampMs,
    }));
  }

  /** Sends queued records, combining whatever queued while the previous request was in flight. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const group: PendingProduce[] = [this.queue.shift()!];
        let bytes = group[0]!.bytes;
        while (this.queue.length > 0 && bytes + this.queue[0]!.bytes <= MAX_COMBINED_BYTES) {
          const next = this.queue.shift()!;
          bytes += next.bytes;
          group.push(next);
        }
        await this.sendGroup(group);
      }
    } finally {
      this.draining = false;
    }
  }

  private async sendGroup(group: PendingProduce[]): Promise<void> {
    let acks: Awaited<ReturnType<Producer["sendBatch"]>>;
    try {
      acks = await this.producer.sendBatch({
        acks: -1,
        topicMessages: group.map((p) => ({ topic: p.topic, messages: p.messages })),
      });
    } catch (err) {
      const retriable = toDriftlineError(err, group[0]!.topic).retryable;
      if (group.length > 1 && !retriable) {
        for (const p of group) await this.sendGroup([p]);
      } else {
        for (const p of group) p.reject(err);
      }
      return;
    }
    // kafkajs merges the groups per topic in order, and per partition in order, so walking the
    // groups in order and counting from each partition's base offset gives every record's offset.
    const base = new Map(acks.map((a) => [`${a.topicName}/${a.partition}`, a]));
    const next = new Map<string, number>();
    for (const p of group) {
      try {
        p.resolve(
          p.messages.map((m) => {
            const key = `${p.topic}/${m.partition}`;
            const ack = base.get(key);
            if (ack?.baseOffset === undefined) {
              throw new DependencyUnavailableError(
                `Kafka acknowledged a produce to ${p.topic} without an offset for partition ${m.partition}.`,
              );
            }
            const index = next.get(key) ?? 0;
            next.set(key, index + 1);
            return {
              partition: m.partition as number,
              offset: Number(ack.baseOffset) + index,
              logAppendTimeMs: Number(ack.logAppendTime ?? "-1"),
            };
          }),
        );
      } catch (err) {
        p.reject(err);
      }
    }
  }

  private connect(): Promise<void> {
    if (this.connected) return Promise.resolve();
    this.connecting ??= (async () => {
      try {
        await Promise.all([this.producer.connect(), this.admin.connect()]);
        this.knownClusterId = (await this.admin.describeCluster()).clusterId;
        this.connected = true;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private async partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.metadata.get(topic);
    if (cached && Date.now() - cached.atMs < this.metadataMaxAgeMs) return cached.partitions;
    const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics.find((t) => t.name === topic)?.partitions ?? [];
    if (partitions.length === 0) throw unknownTopic(topic);
    this.metadata.set(topic, { partitions, atMs: Date.now() });
    return partitions;
  }
}

function toKafkajsHeaders(headers: OutgoingRecord["headers"]): Message["headers"] {
  if (headers.length === 0) return undefined;
  // kafkajs takes a name → value(s) map; repeated names become an array, in request order.
  const out: Record<string, Buffer | undefined | Array<Buffer | undefined>> = {};
  for (const { name, value } of headers) {
    const v = value ?? undefined;
    const existing = out[name];
    if (!(name in out)) out[name] = v;
    else if (Array.isArray(existing)) existing.push(v);
    else out[name] = [existing, v];
  }
  return out as Message["headers"];
}

function unknownTopic(topic: string): NotFoundError {
  return new NotFoundError(
    `Topic ${topic} does not exist on the Kafka cluster. Create it first (ensureTopics).`,
    { context: { topic } },
  );
}

/** Kafka error names (kafkajs' `type`) that mean "this request can never succeed as sent". */
const PERMANENT: Record<string, (topic: string, e: Error) => DriftlineError> = {
  UNKNOWN_TOPIC_OR_PARTITION: (topic) => unknownTopic(topic),
  MESSAGE_TOO_LARGE: (topic, e) =>
    new DriftlineError("PAYLOAD_TOO_LARGE", `A record is larger than topic ${topic} accepts.`, {
      cause: e,
    }),
  RECORD_LIST_TOO_LARGE: (topic, e) =>
    new DriftlineError(
      "PAYLOAD_TOO_LARGE",
      `The records for one partition of ${topic} exceed the broker's request limit; send fewer per request.`,
      { cause: e },
    ),
  TOPIC_AUTHORIZATION_FAILED: (topic, e) =>
    new DriftlineError("FORBIDDEN", `The gateway's Kafka principal may not write to ${topic}.`, {
      cause: e,
    }),
  INVALID_RECORD: (_t, e) =>
    new ValidationError(`Kafka rejected a record: ${e.message}`, [], { cause: e }),
  INVALID_TIMESTAMP: (_t, e) =>
    new ValidationError(`Kafka rejected a record timestamp: ${e.message}`, [], { cause: e }),
};

/** kafkajs errors that say the cluster could not be reached or did not answer in time. */
const UNREACHABLE = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSMetadataNotLoaded",
  "KafkaJSTopicMetadataNotLoaded",
  "KafkaJSLockTimeout",
  "KafkaJSTimeout",
  "KafkaJSNumberOfRetriesExceeded",
]);

/**
 * Maps whatever kafkajs threw to a DriftlineError: permanent Kafka errors to their 4xx kind,
 * unreachable/retriable ones to DependencyUnavailableError (503), anything else to INTERNAL.
 */
export function toDriftlineError(err: unknown, topic: string): DriftlineError {
  if (isDriftlineError(err)) return err;
  // kafkajs wraps the last attempt's error in KafkaJSNumberOfRetriesExceeded (`cause`).
  const chain: Error[] = [];
  for (let e: unknown = err; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  for (const e of chain) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === "string" && type in PERMANENT) return PERMANENT[type]!(topic, e);
  }
  const first = chain[0];
  const message = first?.message ?? String(err);
  if (chain.some((e) => UNREACHABLE.has(e.name) || (e as { retriable?: boolean }).retriable)) {
    return new DependencyUnavailableError(`Kafka is unreachable or busy: ${message}`, {
      cause: err,
      context: { topic },
    });
  }
  return new DriftlineError("INTERNAL", `Kafka error: ${message}`, {
    cause: err,
    context: { topic },
  });
}

class ProduceTimeoutError extends Error {
  override name = "KafkaJSTimeout";
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProduceTimeoutError(`${what} took over ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
