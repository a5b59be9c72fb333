/** A fetch-only client for the Kafka REST Proxy v3 produce API (Confluent Cloud, or Driftline's gateway). */
import pLimit, { type LimitFunction } from "p-limit";
import {
  ConfigError,
  ConflictError,
  DependencyUnavailableError,
  DriftlineError,
  NotFoundError,
  ValidationError,
} from "#core/errors";
import { concatenatedJson } from "#core/kafka-rest";

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

export interface KafkaRestRecord {
  /** Sent as a STRING key; null for no key (round-robin partitioning). */
  key: string | null;
  /** Sent as JSON, or as BINARY when it is a Uint8Array; null/undefined for a null value. */
  value: unknown;
  /** Header values are sent as their UTF-8 bytes (base64 on the wire, as the API demands). */
  headers?: Record<string, string> | undefined;
  /** Explicit partition; otherwise the server partitions by key (murmur2, like Java clients). */
  partitionId?: number | undefined;
  /** Record timestamp; otherwise the server's time of produce. */
  timestamp?: Date | undefined;
}

export interface ProducedRecord {
  partitionId: number;
  offset: number;
}

/** One per record, in input order. `retryable` and `message` mirror `error` for plain callers. */
export type KafkaRestOutcome =
  | ({ ok: true } & ProducedRecord)
  | { ok: false; retryable: boolean; message: string; error: DriftlineError };

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
  private readonly root: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxBatchEntries: number;
  private readonly maxStreamEntries: number;
  private readonly fetchFn: (input: string, init: RequestInit) => Promise<Response>;
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
    this.root = `${options.baseUrl.replace(/\/+$/, "")}/v3/clusters/${encodeURIComponent(options.clusterId)}/topics/`;
    this.authorization = options.apiKey
      ? `Basic ${utf8ToBase64(`${options.apiKey}:${options.apiSecret}`)}`
      : undefined;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBatchEntries = maxBatchEntries;
    this.maxStreamEntries = maxStreamEntries;
    const mode = options.produceMode ?? "auto";
    this.learnedRoutes = mode === "auto" ? options.learnedRoutes : undefined;
    this.currentRoute = mode === "auto" ? this.learnedRoutes?.get(this.root) : mode;
    this.limit = pLimit(maxConcurrentRequests);
    // Called through a closure: workerd rejects a detached `fetch` ("Illegal invocation").
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
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
    const result = await this.limit(() => this.send(topic, "records", toWire(record)));
    if (result.kind === "error") throw result.error;
    const outcome = parseSingle(result.body);
    if (!outcome.ok) throw outcome.error;
    return { partitionId: outcome.partitionId, offset: outcome.offset };
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
    if (this.currentRoute === "single") return this.produceOneByOne(topic, chunk, start, outcomes);
    if (this.currentRoute === "stream")
      return this.produceStreamInto(topic, chunk, start, outcomes);
    const learning = this.currentRoute === undefined;
    const result = await this.produceChunk(topic, chunk, start);
    if (result.kind === "ok") {
      if (learning) this.learn("batch");
      result.outcomes.forEach((outcome, i) => {
        outcomes[start + i] = outcome;
      });
      return undefined;
    }
    if (result.status === 413 && chunk.length > 1) {
      // The chunk as a whole is over the server's body limit; its records may each fit.
      return this.produceOneByOne(topic, chunk, start, outcomes);
    }
    if (learning && (result.status === 404 || result.status === 405)) {
      // Either the topic is unknown or the server has no batch route (Confluent Cloud serves
      // streaming mode instead): the stream tells which, a 404 there too meaning the topic.
      return this.produceStreamInto(topic, chunk, start, outcomes, true);
    }
    return result.error;
  }

  /**
   * Produces one chunk in streaming mode: the records as concatenated JSON in one chunked request
   * to `records`, answered with one delivery report per record, in order. `learning` (auto mode,
   * route unknown) settles the route: `stream` when several records were reported, `single` when
   * the server answered only the first of several or refused the stream as a request.
   */
  private async produceStreamInto(
    topic: string,
    chunk: readonly KafkaRestRecord[],
    start: number,
    outcomes: Array<KafkaRestOutcome | undefined>,
    learning = false,
  ): Promise<DriftlineError | undefined> {
    let body = "";
    for (const record of chunk) body += JSON.stringify(toWire(record));
    const result = await this.request(topic, "records", streamOf(body));
    if (result.kind === "error") {
      if (learning && result.status === 404) return result.error;
      if (
        (learning && isPerRecordStatus(result.status)) ||
        (result.status === 413 && chunk.length > 1)
      ) {
        // A server that refuses the stream as a whole, or a chunk over its body limit: the
        // records one by one (a refused record then gets its own answer).
        if (learning) this.learn("single");
        return this.produceOneByOne(topic, chunk, start, outcomes);
      }
      return result.error;
    }
    let reports: unknown[];
    try {
      reports = concatenatedJson(result.text);
    } catch (err) {
      return new DependencyUnavailableError(
        `Kafka REST answered a stream of ${chunk.length} records to ${topic} with reports that are not JSON: ${(err as Error).message}`,
        { cause: err, context: { topic } },
      );
    }
    const reported = Math.min(reports.length, chunk.length);
    for (let i = 0; i < reported; i++) outcomes[start + i] = parseSingle(reports[i]);
    // What a stream shows: one record answered of several is a server that reads one record per
    // request; several answered, a streaming server (one that stopped early has failed the rest).
    // A one-record stream shows nothing, so it teaches nothing.
    if (learning && chunk.length > 1 && reported > 0) {
      this.learn(reported === 1 ? "single" : "stream");
    }
    if (reported === chunk.length) return undefined;
    if (learning && reported === 1) {
      // A server that reads one record per request: the rest were not produced.
      return this.produceOneByOne(topic, chunk.slice(1), start + 1, outcomes);
    }
    return new DependencyUnavailableError(
      `Kafka REST answered ${reported} delivery reports for a stream of ${chunk.length} records to ${topic}.`,
      { context: { topic } },
    );
  }

  private learn(route: ProduceRoute): void {
    this.currentRoute = route;
    this.learnedRoutes?.set(this.root, route);
  }

  /** Sends records singly, in order, from `start`; returns the error that must stop the rest, if any. */
  private async produceOneByOne(
    topic: string,
    records: readonly KafkaRestRecord[],
    start: number,
    outcomes: Array<KafkaRestOutcome | undefined>,
  ): Promise<DriftlineError | undefined> {
    for (const [i, record] of records.entries()) {
      const result = await this.send(topic, "records", toWire(record));
      if (result.kind === "ok") {
        outcomes[start + i] = parseSingle(result.body);
        continue;
      }
      outcomes[start + i] = failure(result.error);
      if (!isPerRecordStatus(result.status)) return result.error;
    }
    return undefined;
  }

  private async produceChunk(
    topic: string,
    chunk: readonly KafkaRestRecord[],
    offset: number,
  ): Promise<
    | { kind: "ok"; outcomes: KafkaRestOutcome[] }
    | { kind: "error"; status: number; error: DriftlineError }
  > {
    const ids = chunk.map((_, i) => `r${offset + i}`);
    const entries = chunk.map((r, i) => ({ id: ids[i], ...toWire(r) }));
    const result = await this.send(topic, "records:batch", { entries });
    if (result.kind === "error") return result;
    const body = result.body as {
      successes?: Array<{ id?: unknown; partition_id?: unknown; offset?: unknown }>;
      failures?: Array<{ id?: unknown; error_code?: unknown; message?: unknown }>;
    };
    const byId = new Map<unknown, KafkaRestOutcome>();
    for (const s of body.successes ?? []) {
      byId.set(s.id, { ok: true, partitionId: Number(s.partition_id), offset: Number(s.offset) });
    }
    for (const f of body.failures ?? []) {
      const code = typeof f.error_code === "number" ? f.error_code : 500;
      const message = typeof f.message === "string" ? f.message : `error_code ${code}`;
      byId.set(f.id, failure(errorForStatus(httpStatusOf(code), message, { topic })));
    }
    const outcomes = ids.map(
      (id) =>
        byId.get(id) ??
        failure(
          new DependencyUnavailableError(
            `Kafka REST answered records:batch for ${topic} without a result for entry ${id}.`,
          ),
        ),
    );
    return { kind: "ok", outcomes };
  }

  private async send(
    topic: string,
    action: "records" | "records:batch",
    payload: unknown,
  ): Promise<
    { kind: "ok"; body: unknown } | { kind: "error"; status: number; error: DriftlineError }
  > {
    const result = await this.request(topic, action, JSON.stringify(payload));
    if (result.kind === "error") return result;
    try {
      return { kind: "ok", body: JSON.parse(result.text) };
    } catch {
      return {
        kind: "error",
        status: 502,
        error: new DependencyUnavailableError(
          `Kafka REST answered ${result.status} for ${topic} without a JSON body.`,
          { context: { topic } },
        ),
      };
    }
  }

  /** One POST; a non-2xx answer, a network failure or a timeout comes back as an error. */
  private async request(
    topic: string,
    action: "records" | "records:batch",
    body: string | ReadableStream<Uint8Array>,
  ): Promise<
    | { kind: "ok"; status: number; text: string }
    | { kind: "error"; status: number; error: DriftlineError }
  > {
    const url = `${this.root}${encodeURIComponent(topic)}/${action}`;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.authorization) headers.authorization = this.authorization;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url, {
        method: "POST",
        headers,
        body,
        // A stream body is sent chunked; Node's fetch wants this said (workerd accepts it).
        ...(typeof body === "string" ? {} : { duplex: "half" }),
        signal: AbortSignal.timeout(this.timeoutMs),
      } as RequestInit);
      text = await response.text();
    } catch (err) {
      const timedOut =
        err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      const reason = timedOut ? `no answer within ${this.timeoutMs} ms` : String(err);
      return {
        kind: "error",
        status: 0,
        error: new DependencyUnavailableError(`Kafka REST produce to ${topic} failed: ${reason}`, {
          cause: err,
          context: { topic },
        }),
      };
    }
    if (!response.ok) {
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const message = messageOf(parsed) ?? (text.slice(0, 200) || response.statusText);
      return {
        kind: "error",
        status: response.status,
        error: errorForStatus(response.status, message, { topic }),
      };
    }
    return { kind: "ok", status: response.status, text };
  }
}

/** How a server takes several records: `records:batch`, streaming mode, or one per request. */
export type ProduceRoute = "batch" | "stream" | "single";

/** `text` as a one-chunk stream: a body of unknown length, which fetch sends chunked. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * For each chunk of `size` records, the earlier chunks it must wait for: per key (a keyless
 * record: per explicit partition), the chunk that last held it.
 */
function chunkPredecessors(records: readonly KafkaRestRecord[], size: number): number[][] {
  const lastChunk = new Map<string, number>();
  const waitFor: number[][] = [];
  for (let start = 0; start < records.length; start += size) {
    const chunk = waitFor.length;
    const earlier = new Set<number>();
    for (let i = start; i < Math.min(start + size, records.length); i++) {
      const { key, partitionId } = records[i]!;
      const identity =
        key !== null ? `k${key}` : partitionId !== undefined ? `p${partitionId}` : undefined;
      if (identity === undefined) continue;
      const last = lastChunk.get(identity);
      if (last !== undefined && last !== chunk) earlier.add(last);
      lastChunk.set(identity, chunk);
    }
    waitFor.push([...earlier]);
  }
  return waitFor;
}

/** Statuses that concern one record only: the next record may well succeed. */
function isPerRecordStatus(status: number): boolean {
  return status === 400 || status === 413 || status === 422;
}

function failure(error: DriftlineError): KafkaRestOutcome {
  return { ok: false, retryable: error.retryable, message: error.message, error };
}

function parseSingle(body: unknown): KafkaRestOutcome {
  const b = body as {
    error_code?: unknown;
    message?: unknown;
    partition_id?: unknown;
    offset?: unknown;
  };
  // A delivery report carries its own error_code; 200 is success (streaming-mode semantics).
  if (typeof b.error_code === "number" && b.error_code !== 200) {
    const message = typeof b.message === "string" ? b.message : `error_code ${b.error_code}`;
    return failure(errorForStatus(httpStatusOf(b.error_code), message, {}));
  }
  return { ok: true, partitionId: Number(b.partition_id), offset: Number(b.offset) };
}

/** Confluent error codes are HTTP statuses or five-digit refinements of them (40403 → 404). */
function httpStatusOf(code: number): number {
  return code >= 10_000 ? Math.floor(code / 100) : code;
}

function messageOf(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as { message?: unknown; error?: { message?: unknown } };
  if (typeof b.message === "string") return b.message;
  if (typeof b.error?.message === "string") return b.error.message;
  return undefined;
}

/** 5xx, 408 and 429 are retryable; every other 4xx is not (retrying cannot fix the request). */
export function errorForStatus(
  status: number,
  serverMessage: string,
  context: Record<string, unknown>,
): DriftlineError {
  const message = `Kafka REST ${status}: ${serverMessage}`;
  const options = { context: { ...context, status } };
  if (status >= 500 || status === 408) return new DependencyUnavailableError(message, options);
  switch (status) {
    case 400:
    case 422:
      return new ValidationError(message, [], options);
    case 401:
      return new DriftlineError("UNAUTHENTICATED", message, options);
    case 403:
      return new DriftlineError("FORBIDDEN", message, options);
    case 404:
      return new NotFoundError(message, options);
    case 409:
      return new ConflictError(message, options);
    case 413:
      return new DriftlineError("PAYLOAD_TOO_LARGE", message, options);
    case 415:
      return new DriftlineError("UNSUPPORTED_MEDIA_TYPE", message, options);
    case 429:
      return new DriftlineError("RATE_LIMITED", message, { ...options, retryable: true });
    default:
      return new DriftlineError("INTERNAL", message, options);
  }
}

function toWire(record: KafkaRestRecord): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  if (record.partitionId !== undefined) wire.partition_id = record.partitionId;
  if (record.key !== null) wire.key = { type: "STRING", data: record.key };
  if (record.value instanceof Uint8Array) {
    wire.value = { type: "BINARY", data: bytesToBase64(record.value) };
  } else if (record.value !== null && record.value !== undefined) {
    wire.value = { type: "JSON", data: record.value };
  }
  if (record.headers) {
    wire.headers = Object.entries(record.headers).map(([name, value]) => ({
      name,
      value: utf8ToBase64(value),
    }));
  }
  if (record.timestamp) wire.timestamp = record.timestamp.toISOString();
  return wire;
}

function utf8ToBase64(text: string): string {
  return bytesToBase64(new TextEncoder().encode(text));
}

function bytesToBase64(bytes: Uint8Array): string {
  // btoa takes a "binary string"; build it in slices to stay under argument-count limits.
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
