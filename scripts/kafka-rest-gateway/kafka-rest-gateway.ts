/** An HTTP gateway serving the Kafka REST Proxy v3 produce API (as Confluent Cloud does) over kafkajs. */
import { type Context, Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DriftlineError, isDriftlineError, STATUS_BY_CODE, ValidationError } from "#core/errors";
import { concatenatedJson } from "#core/kafka-rest";
import {
  describeIssues,
  type EncodedRecord,
  encodeRecord,
  ProduceBatchEntry,
  ProduceBatchEnvelope,
  ProduceRequest,
} from "./produce-request";
import type { DeliveredRecord, RecordProducer } from "./record-producer";

export interface KafkaRestGatewayDeps {
  producer: RecordProducer;
  /** The topics clients may produce to (the allow-list); any other topic answers 404. */
  topics: readonly string[];
  /**
   * The cluster id clients put in the path. The Kafka cluster's real id is accepted too. Confluent
   * Cloud ids look like `lkc-abc123`; the local default is `driftline`.
   */
  clusterId: string;
  /** When set, every `/v3` and `/kafka/v3` request needs HTTP Basic auth with this key/secret. */
  auth?: { apiKey: string; apiSecret: string } | undefined;
  /** Request body limit in bytes. Default 1 MiB (Kafka's default `message.max.bytes`). */
  maxBodyBytes?: number;
  /** Most entries one `records:batch` call may carry. Default 100. */
  maxBatchEntries?: number;
  /** Unexpected errors go here (with the request path); default `console.error`. */
  logError?: (message: string, context: Record<string, unknown>) => void;
  now?: () => number;
}

/** Every error body is `{ error_code, message }` like Confluent's; statuses as the Worker's API. */
const STATUS = STATUS_BY_CODE;

function errorResponse(c: Context, status: ContentfulStatusCode, message: string): Response {
  if (status === 503) c.header("Retry-After", "1");
  return c.json({ error_code: status, message }, status);
}

/**
 * The gateway app (serve it with `@hono/node-server`, or call `app.fetch` in tests).
 *
 * Routes, each also under `/kafka` (Confluent Cloud's prefix), so one client base URL style works:
 * - `POST /v3/clusters/{cluster_id}/topics/{topic_name}/records` — one record, or several as
 *   concatenated JSON (streaming mode, as Confluent Cloud takes them), answered with one
 *   delivery report each, in order, each with its own `error_code`.
 * - `POST /v3/clusters/{cluster_id}/topics/{topic_name}/records:batch` — `{ entries: [...] }`,
 *   answered 207 with `{ successes, failures }` per entry id.
 * - `GET /v3/clusters`, `GET /v3/clusters/{cluster_id}` — which cluster this is.
 * - `GET /health` (process alive), `GET /ready` (Kafka answers) — no auth.
 * Delivery is at-least-once: a 5xx may hide a record that was written, so retries can duplicate
 * (consumers dedup on the record key).
 */
export function createKafkaRestGateway(deps: KafkaRestGatewayDeps): Hono {
  const allowed = new Set(deps.topics);
  const maxBodyBytes = deps.maxBodyBytes ?? 1024 * 1024;
  const maxBatchEntries = deps.maxBatchEntries ?? 100;
  const now = deps.now ?? Date.now;
  const logError = deps.logError ?? ((m, ctx) => console.error(m, ctx));
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const res = err.getResponse();
      if (res.headers.get("content-type")?.includes("application/json")) return res;
      return errorResponse(c, err.status as ContentfulStatusCode, err.message || res.statusText);
    }
    if (isDriftlineError(err)) return errorResponse(c, STATUS[err.code], err.message);
    logError("kafka-rest-gateway: unexpected error", { path: c.req.path, error: String(err) });
    return errorResponse(c, 500, "Internal error in the Kafka REST gateway; see its log.");
  });
  app.notFound((c) => errorResponse(c, 404, `No route for ${c.req.method} ${c.req.path}.`));

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    const ok = await deps.producer.ready();
    return ok
      ? c.json({ status: "ready", cluster_id: deps.clusterId })
      : c.json({ status: "unavailable", reason: "Kafka does not answer" }, 503);
  });

  const v3 = new Hono();
  if (deps.auth) {
    v3.use(
      basicAuth({
        username: deps.auth.apiKey,
        password: deps.auth.apiSecret,
        realm: "kafka-rest",
        invalidUserMessage: {
          error_code: 401,
          message: "Authentication required: HTTP Basic with the gateway's API key and secret.",
        },
      }),
    );
  }
  v3.use(
    "/clusters/:clusterId/topics/*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: async (c) => {
        await discardBody(c.req.raw.body);
        return errorResponse(
          c,
          413,
          `Request body is larger than the limit of ${maxBodyBytes} bytes.`,
        );
      },
    }),
  );

  const clusterView = () => ({
    kind: "KafkaCluster",
    cluster_id: deps.clusterId,
    kafka_cluster_id: deps.producer.clusterId() ?? null,
  });
  const checkCluster = (clusterId: string) => {
    if (clusterId === deps.clusterId || clusterId === deps.producer.clusterId()) return;
    throw new DriftlineError(
      "NOT_FOUND",
      `Cluster ${clusterId} not found. This gateway serves cluster "${deps.clusterId}".`,
    );
  };
  const checkTopic = (topic: string) => {
    if (allowed.has(topic)) return;
    throw new DriftlineError(
      "NOT_FOUND",
      `This server does not host topic ${topic}. Topics served: ${[...allowed].join(", ")}.`,
    );
  };

  v3.get("/clusters", (c) => c.json({ kind: "KafkaClusterList", data: [clusterView()] }));
  v3.get("/clusters/:clusterId", (c) => {
    checkCluster(c.req.param("clusterId"));
    return c.json(clusterView());
  });

  // One route for `records` and `records:batch`: a ':' inside a path segment is not a parameter.
  v3.post("/clusters/:clusterId/topics/:topic/:action", async (c) => {
    const clusterId = c.req.param("clusterId");
    const topic = c.req.param("topic");
    const action = c.req.param("action");
    if (action !== "records" && action !== "records:batch") {
      return errorResponse(c, 404, `No route for POST ${c.req.path}.`);
    }
    checkCluster(clusterId);
    checkTopic(topic);
    const values = await readJsonValues(c);
    const answer = { cluster_id: clusterId, topic_name: topic };

    if (action === "records" && values.length > 1) {
      // Streaming mode: a record that fails validation gets its own report; the others are
      // produced together.
      const reports: Array<Record<string, unknown>> = new Array(values.length);
      const valid: Array<{ index: number; encoded: EncodedRecord }> = [];
      const stamp = now();
      values.forEach((raw, index) => {
        const parsed = ProduceRequest.safeParse(raw);
        if (parsed.success) valid.push({ index, encoded: encodeRecord(parsed.data, stamp) });
        else reports[index] = { error_code: 400, message: describeIssues(parsed.error).message };
      });
      const delivered = valid.length
        ? await deps.producer.produce(
            topic,
            valid.map((v) => v.encoded.record),
          )
        : [];
      valid.forEach((v, k) => {
        reports[v.index] = {
          error_code: 200,
          ...answer,
          ...deliveryReport(delivered[k]!, v.encoded),
        };
      });
      return c.body(reports.map((r) => JSON.stringify(r)).join("\n"), 200, {
        "content-type": "application/json",
      });
    }
    if (values.length > 1) {
      throw new ValidationError(
        `Invalid produce request: records:batch takes one JSON object, not ${values.length}.`,
        [{ field: "(body)", message: "one JSON object" }],
      );
    }
    const body = values[0];

    if (action === "records") {
      const parsed = ProduceRequest.safeParse(body);
      if (!parsed.success) throw describeIssues(parsed.error);
      const encoded = encodeRecord(parsed.data, now());
      const [delivered] = await deps.producer.produce(topic, [encoded.record]);
      return c.json({ error_code: 200, ...answer, ...deliveryReport(delivered!, encoded) });
    }

    const envelope = ProduceBatchEnvelope.safeParse(body);
    if (!envelope.success) throw describeIssues(envelope.error);
    const entries = envelope.data.entries;
    if (entries.length > maxBatchEntries) {
      throw new ValidationError(
        `Invalid produce request: entries has ${entries.length} records; at most ${maxBatchEntries} per request.`,
        [{ field: "entries", message: `at most ${maxBatchEntries}` }],
      );
    }
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.id)) {
        throw new ValidationError(`Invalid produce request: entry id ${e.id} is not unique.`, [
          { field: "entries.id", message: "ids must be distinct" },
        ]);
      }
      seen.add(e.id);
    }

    // Entries that fail validation are reported on their own; the others are produced together.
    const failures: Array<{ id: string; error_code: number; message: string }> = [];
    const valid: Array<{ id: string; encoded: EncodedRecord }> = [];
    const stamp = now();
    entries.forEach((raw, i) => {
      const parsed = ProduceBatchEntry.safeParse(raw);
      if (!parsed.success) {
        const message = describeIssues(parsed.error, `entries.${i}`).message;
        failures.push({ id: raw.id, error_code: 400, message });
        return;
      }
      const { id, ...request } = parsed.data;
      valid.push({ id, encoded: encodeRecord(request, stamp) });
    });

    const delivered = valid.length
      ? await deps.producer.produce(
          topic,
          valid.map((v) => v.encoded.record),
        )
      : [];
    const successes = valid.map((v, i) => ({
      id: v.id,
      ...answer,
      ...deliveryReport(delivered[i]!, v.encoded),
    }));
    return c.json({ successes, failures }, 207);
  });

  app.route("/v3", v3);
  app.route("/kafka/v3", v3);
  return app;
}

function deliveryReport(delivered: DeliveredRecord, encoded: EncodedRecord) {
  return {
    partition_id: delivered.partition,
    offset: delivered.offset,
    timestamp: new Date(delivered.timestampMs).toISOString(),
    ...(encoded.key ? { key: encoded.key } : {}),
    ...(encoded.value ? { value: encoded.value } : {}),
  };
}

/** The body's JSON values: one, or several concatenated (streaming mode). */
async function readJsonValues(c: Context): Promise<unknown[]> {
  const type = c.req.header("content-type");
  // A missing Content-Type is tolerated (curl-style clients); a different one is refused.
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new DriftlineError(
      "UNSUPPORTED_MEDIA_TYPE",
      `Content-Type ${type} is not supported; send application/json.`,
    );
  }
  const text = await c.req.text();
  if (text.trim() === "") {
    throw new ValidationError("Request body is empty; send a JSON object.", [
      { field: "(body)", message: "empty" },
    ]);
  }
  try {
    return concatenatedJson(text);
  } catch (err) {
    throw new ValidationError(
      `Request body is not valid JSON: ${(err as Error).message}`,
      [{ field: "(body)", message: "not JSON" }],
      { cause: err },
    );
  }
}

/** Most of a refused body read and thrown away before answering; beyond it the connection closes. */
const MAX_DISCARDED_BYTES = 64 * 1024 * 1024;

/**
 * Reads and drops what is left of a refused request body. Answering 413 while the client is still
 * sending makes it see the connection reset instead of the answer (workerd reports "Network
 * connection lost"), so it could not tell a refused record from a lost request and would retry
 * the whole batch. A body already taken by the body-limit reader is left as it is.
 */
async function discardBody(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body === null || body.locked) return;
  const reader = body.getReader();
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > MAX_DISCARDED_BYTES) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The client went away: nothing left to discard.
  }
}
