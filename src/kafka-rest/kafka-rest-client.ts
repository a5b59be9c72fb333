/** A fetch-only client for the Kafka REST Proxy v3 produce API (Confluent Cloud, or Driftline's gateway). */
import pLimit, { type LimitFunction } from "p-limit";
import { ConfigError, type DriftlineError } from "#core/errors";
import { chunkPredecessors } from "./chunk-predecessors";
import { failure } from "./error-for-status";
import type {
  KafkaRestOutcome,
  KafkaRestRecord,
  ProducedRecord,
  ProduceRoute,
} from "./kafka-rest-record";
import { utf8ToBase64 } from "./kafka-rest-record";
import { KafkaRestTransport } from "./kafka-rest-transport";
import { produceOne, produceOneByOne } from "./produce-one-by-one";
import { produceRecordsBatch } from "./produce-records-batch";
import { produceStream } from "./produce-stream";

export type {
  KafkaRestOutcome,
  KafkaRestRecord,
  ProducedRecord,
  ProduceRoute,
} from "./kafka-rest-record";

export interface KafkaRestClientOptions {
  /**
   * Everything before `/v3`: `http://127.0.0.1:8082` for the local gateway,
   * `https://pkc-xxxxx.<region>.<cloud>.confluent.cloud:443/kafka` for Confluent Cloud.
   */
  baseUrl: string;
  /** The `{cluster_id}` path segment (Confluent Cloud: `lkc-…`; the local gateway: `driftline`). */
  clusterId: string;
  /** HTTP Basic credentials (Confluent Cloud API key/secret); both or neither. */
  apiKey?: string | undefined;
  apiSecret?: string | undefined;
  /** Per HTTP request, ms. Default 10 000. */
  timeoutMs?: number;
  /**
   * Records per `records:batch` request. Default 10 (the REST Proxy's default maximum); the
   * local gateway takes up to 100.
   */
  maxBatchEntries?: number;
  /**
   * Records per request in streaming mode (`stream`). Default 100.
   */
  maxStreamEntries?: number;
  /**
   * How several records go in one request (KAFKA_REST_PRODUCE_MODE in the Worker):
   * - `batch`: `records:batch` (`{ entries: [...] }`; the local gateway, and REST Proxies that
   *   serve it);
   * - `stream`: `records` in streaming mode, the records as concatenated JSON in one chunked
   *   request, answered by one delivery report each (what Confluent Cloud documents);
   * - `single`: one request per record;
   * - `auto` (default): `records:batch`; where the server has no such route (404/405 while the
   *   topic exists), streaming mode; where the server answers only the first record of a stream,
   *   one request per record. What it learns holds for the client's life.
   */
  produceMode?: "auto" | ProduceRoute;
  /**
   * `auto` mode: where what one client learned about a server outlives it (keyed by the topics
   * URL), so later clients skip the probing. The Worker keeps one per isolate: its queue consumer
   * builds a client per invocation.
   */
  learnedRoutes?: Map<string, ProduceRoute>;
  /**
   * HTTP requests one client has in flight at a time. Default 6: a Worker invocation holds at
   * most 6 outgoing connections at once, and a fetch beyond them waits for a free one while its
   * timeout already runs, so more would only turn waiting into timeouts.
   */
  maxConcurrentRequests?: number;
  /** Injected for tests; default the global `fetch`. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/**
 * Produces records over HTTP with `fetch` only, so it runs in workerd and in Node.
 *
 * No retry loop inside: a failure comes back as an outcome whose `error` is retryable
 * (network, timeout, 5xx, 429 → DependencyUnavailableError or RATE_LIMITED) or not (other 4xx →
 * a DriftlineError by status), and the caller — the Worker's Cloudflare Queue consumer —
 * redelivers with backoff and dead-letters what keeps failing. Delivery is at-least-once: a
 * timeout or 5xx may hide records that were written, so consumers dedup on the key.
 */
export class KafkaRestClient {
  private readonly transport: KafkaRestTransport;
  private readonly maxBatchEntries: number;
  private readonly maxStreamEntries: number;
  /** Bounds the requests in flight across every call on this client (a Worker invocation). */
  private readonly limit: LimitFunction;
  /** How several records are sent; in `auto` mode undefined until the server has shown it. */
  private currentRoute: ProduceRoute | undefined;
  private readonly learnedRoutes: Map<string, ProduceRoute> | undefined;

  constructor(options: KafkaRestClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new ConfigError(`Kafka REST base URL "${options.baseUrl}" is not an absolute URL.`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new ConfigError(`Kafka REST base URL must be http(s), not ${base.protocol}`);
    }
    if (!options.clusterId) throw new ConfigError("Kafka REST cluster id is empty.");
    if (Boolean(options.apiKey) !== Boolean(options.apiSecret)) {
      throw new ConfigError("Kafka REST credentials need both the API key and the API secret.");
    }
    const maxBatchEntries = options.maxBatchEntries ?? 10;
    if (!Number.isInteger(maxBatchEntries) || maxBatchEntries < 1) {
      throw new ConfigError(`maxBatchEntries must be a positive integer, not ${maxBatchEntries}.`);
    }
    const maxStreamEntries = options.maxStreamEntries ?? 100;
    if (!Number.isInteger(maxStreamEntries) || maxStreamEntries < 1) {
      throw new ConfigError(
        `maxStreamEntries must be a positive integer, not ${maxStreamEntries}.`,
      );
    }
    const maxConcurrentRequests = options.maxConcurrentRequests ?? 6;
    if (!Number.isInteger(maxConcurrentRequests) || maxConcurrentRequests < 1) {
      throw new ConfigError(
        `maxConcurrentRequests must be a positive integer, not ${maxConcurrentRequests}.`,
      );
    }
    this.transport = new KafkaRestTransport({
      root: `${options.baseUrl.replace(/\/+$/, "")}/v3/clusters/${encodeURIComponent(options.clusterId)}/topics/`,
      authorization: options.apiKey
        ? `Basic ${utf8ToBase64(`${options.apiKey}:${options.apiSecret}`)}`
        : undefined,
      timeoutMs: options.timeoutMs ?? 10_000,
      // Called through a closure: workerd rejects a detached `fetch` ("Illegal invocation").
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    });
    this.maxBatchEntries = maxBatchEntries;
    this.maxStreamEntries = maxStreamEntries;
    const mode = options.produceMode ?? "auto";
    this.learnedRoutes = mode === "auto" ? options.learnedRoutes : undefined;
    this.currentRoute = mode === "auto" ? this.learnedRoutes?.get(this.transport.root) : mode;
    this.limit = pLimit(maxConcurrentRequests);
  }

  /**
   * Produces `records` to `topic` in chunks (of `maxBatchEntries`, or `maxStreamEntries` in
   * streaming mode), up to `maxConcurrentRequests`
   * requests at a time, and returns one outcome per record in input order. Never rejects for
   * HTTP or network failures: each record gets an outcome.
   *
   * Order: the records of one key reach Kafka in input order. A chunk is sent only once every
   * earlier chunk holding one of its keys has been answered, so two requests carrying one key are
   * never in flight together, and an answered produce was acknowledged by Kafka (acks=all; the
   * REST Proxy and Driftline's gateway both answer only then); a key always maps to the same
   * partition, so its records keep their order there. Records of different keys sent in
   * concurrent requests may land in a partition in any order relative to each other, as those of
   * concurrent producers do; Driftline's consumers rely on per-key order only (events and
   * predictions are keyed by their own id, registry records by tenant and model). A keyless
   * record is ordered with the others of its explicit partition, or not at all.
   *
   * A failure of a whole request (network, timeout, 5xx, 401, 404 …) stops the produce: chunks
   * not yet sent fail with that error without being sent (so a key's later record is never
   * written after an earlier one failed), requests already in flight keep their own outcomes.
   * Until the client knows how the server takes several records (`auto`), the first chunk is
   * sent alone.
   */
  async produceBatch(
    topic: string,
    records: readonly KafkaRestRecord[],
  ): Promise<KafkaRestOutcome[]> {
    const size = this.currentRoute === "stream" ? this.maxStreamEntries : this.maxBatchEntries;
    const outcomes: Array<KafkaRestOutcome | undefined> = new Array(records.length);
    const waitFor = chunkPredecessors(records, size);
    const done: Promise<void>[] = [];
    let stop: DriftlineError | undefined;

    const run = async (chunkIndex: number): Promise<void> => {
      await Promise.all(waitFor[chunkIndex]!.map((earlier) => done[earlier]));
      if (stop) return;
      await this.limit(async () => {
        if (stop) return;
        const start = chunkIndex * size;
        const chunk = records.slice(start, start + size);
        const error = await this.produceChunkInto(topic, chunk, start, outcomes);
        if (error === undefined) return;
        stop ??= error;
        for (let i = start; i < start + chunk.length; i++) outcomes[i] ??= failure(error);
      });
    };

    const chunks = Math.ceil(records.length / size);
    let first = 0;
    if (chunks > 0 && this.currentRoute === undefined) {
      done[0] = run(0);
      await done[0];
      first = 1;
    }
    for (let c = first; c < chunks; c++) done[c] = run(c);
    await Promise.all(done);
    if (stop) {
      const error = stop;
      for (let i = 0; i < outcomes.length; i++) outcomes[i] ??= failure(error);
    }
    return outcomes as KafkaRestOutcome[];
  }

  /** One record through the single-record endpoint; throws the outcome's DriftlineError. */
  async produce(topic: string, record: KafkaRestRecord): Promise<ProducedRecord> {
    return this.limit(() => produceOne(this.transport, topic, record));
  }

  /**
   * Produces one chunk (records `start …` of the call), writing its outcomes in place; returns
   * the error that must stop the rest of the call, if any (its unwritten records failed by it).
   */
  private async produceChunkInto(
    topic: string,
    chunk: readonly KafkaRestRecord[],
    start: number,
    outcomes: Array<KafkaRestOutcome | undefined>,
  ): Promise<DriftlineError | undefined> {
    if (this.currentRoute === "single") {
      return produceOneByOne(this.transport, topic, chunk, start, outcomes);
    }
    if (this.currentRoute === "stream") {
      return produceStream(this.transport, topic, chunk, start, outcomes);
    }
    const learning = this.currentRoute === undefined;
    const result = await produceRecordsBatch(this.transport, topic, chunk, start);
    if (result.kind === "ok") {
      if (learning) this.learn("batch");
      result.outcomes.forEach((outcome, i) => {
        outcomes[start + i] = outcome;
      });
      return undefined;
    }
    if (result.status === 413 && chunk.length > 1) {
      // The chunk as a whole is over the server's body limit; its records may each fit.
      return produceOneByOne(this.transport, topic, chunk, start, outcomes);
    }
    if (learning && (result.status === 404 || result.status === 405)) {
      // Either the topic is unknown or the server has no batch route (Confluent Cloud serves
      // streaming mode instead): the stream tells which, a 404 there too meaning the topic.
      return produceStream(this.transport, topic, chunk, start, outcomes, (route) =>
        this.learn(route),
      );
    }
    return result.error;
  }

  private learn(route: ProduceRoute): void {
    this.currentRoute = route;
    this.learnedRoutes?.set(this.transport.root, route);
  }
}
