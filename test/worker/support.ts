/** Shared helpers for the Worker tests inside workerd: keys in real Redis, the app, fixture models. */

import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import {
  type ApiKeyRecord,
  apiKeyRedisKey,
  generateApiKey,
  type KeyRateLimit,
  type Role,
  tenantKeysRedisKey,
  tenantOriginsRedisKey,
} from "#core/api-keys";
import { type IngestOutcome, ingestOutcomeSchema, isIngestOutcomeValue } from "#core/events";
import gbtManifest from "../../models/fixtures/gbt/manifest.json";
import gbtModel from "../../models/fixtures/gbt/model.onnx";
import linearManifest from "../../models/fixtures/linear/manifest.json";
import linearModel from "../../models/fixtures/linear/model.onnx";
import mlpManifest from "../../models/fixtures/mlp/manifest.json";
import mlpModel from "../../models/fixtures/mlp/model.onnx";
import { createApp } from "../../src/app";
import { parseWorkerEnv } from "../../src/env";
import type { IngestMessage } from "../../src/queue/ingest-message";
import { type IngestQueueBody, parseIngestQueueBody } from "../../src/queue/ingest-queue-body";
import { QueuePredictionLog } from "../../src/scoring/queue-prediction-log";
import type { Services } from "../../src/services";
import { buildServices } from "../../src/worker";

export const rawEnv = env as unknown as Record<string, unknown>;

export const FIXTURES = {
  linear: { model: linearModel, manifest: linearManifest },
  mlp: { model: mlpModel, manifest: mlpManifest },
  gbt: { model: gbtModel, manifest: gbtManifest },
} as const;
export type FixtureName = keyof typeof FIXTURES;

let redisClient: Redis | undefined;
export function redis(): Redis {
  redisClient ??= new Redis({
    url: String(rawEnv.UPSTASH_REDIS_REST_URL),
    token: String(rawEnv.UPSTASH_REDIS_REST_TOKEN),
    enableTelemetry: false,
  });
  return redisClient;
}

/** A tenant id no other test (or earlier run) uses. */
export function uniqueTenant(label: string): string {
  return `t-${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates a key the way `npm run keys:create` does (with origins: a browser key) and returns the secret. */
export async function createKey(
  tenant: string,
  roles: readonly Role[],
  origins: readonly string[] = [],
): Promise<string> {
  return (await createKeyWithRecord(tenant, roles, { origins })).key;
}

/**
 * As `createKey`, with an optional request limit, also writing the tenant's key index entry (as
 * `keys:create` does; the key admin routes find keys by id through it); returns the record too.
 */
export async function createKeyWithRecord(
  tenant: string,
  roles: readonly Role[],
  options: { origins?: readonly string[]; rateLimit?: KeyRateLimit } = {},
): Promise<{ key: string; record: ApiKeyRecord }> {
  const origins = options.origins ?? [];
  const created = await generateApiKey({ tenant, roles, origins });
  const record: ApiKeyRecord =
    options.rateLimit === undefined
      ? created.record
      : { ...created.record, rateLimit: options.rateLimit };
  await redis().set(apiKeyRedisKey(record.keyHash), record);
  await redis().hset(tenantKeysRedisKey(tenant), {
    [record.keyId]: { keyHash: record.keyHash, roles: record.roles, createdAt: record.createdAt },
  });
  if (origins.length > 0)
    await redis().sadd(tenantOriginsRedisKey(tenant), ...(origins as [string]));
  return { key: created.key, record };
}

/** A Queue that keeps what it is sent and enforces Cloudflare's per-message and per-call limits. */
export class RecordingQueue {
  readonly batches: MessageSendRequest<IngestQueueBody>[][] = [];
  /** Calls (1-based) that fail, to simulate the queue refusing a batch. */
  failCalls = new Set<number>();
  private calls = 0;

  /** sendBatch calls so far, failed ones included. */
  get sendCalls(): number {
    return this.calls;
  }

  /** The queued event records as the consumer reads them (events are queued as bundles of JSON text). */
  get messages(): IngestMessage[] {
    return this.records.filter((m) => !isIngestOutcomeValue(m.value));
  }

  /** The ingest outcome records queued (one per request, beside its events). */
  get outcomes(): IngestOutcome[] {
    return this.records
      .filter((m) => isIngestOutcomeValue(m.value))
      .map((m) => ingestOutcomeSchema.parse(m.value));
  }

  /** Every queued record, events and outcome records. */
  get records(): IngestMessage[] {
    return this.batches.flat().flatMap((m) => {
      const body = parseIngestQueueBody(m.body);
      if (body.kind === "bundle" && body.malformed.length === 0) return body.records;
      if (body.kind === "message") return [body.message];
      throw new Error(`the Worker queued a body the consumer cannot read: ${JSON.stringify(body)}`);
    });
  }

  async send(body: IngestQueueBody): Promise<void> {
    await this.sendBatch([{ body }]);
  }

  async sendBatch(messages: Iterable<MessageSendRequest<IngestQueueBody>>): Promise<void> {
    this.calls += 1;
    const batch = [...messages];
    if (this.failCalls.has(this.calls)) throw new Error("Queue send failed: simulated outage");
    if (batch.length > 100) throw new Error(`sendBatch got ${batch.length} messages (max 100)`);
    const sizes = batch.map(
      (m) =>
        new TextEncoder().encode(typeof m.body === "string" ? m.body : JSON.stringify(m.body))
          .length,
    );
    const largest = Math.max(...sizes);
    if (largest > 128_000) throw new Error(`sendBatch got a ${largest}-byte message (max 128 KB)`);
    const bytes = sizes.reduce((sum, size) => sum + size, 0);
    if (bytes > 256_000) throw new Error(`sendBatch got ${bytes} bytes (max 256 KB)`);
    this.batches.push(batch);
  }
}

export interface TestApp {
  services: Services;
  queue: RecordingQueue;
  /** Calls the app and waits for its `waitUntil` work, like the runtime does after a response. */
  fetch(path: string, init?: RequestInit & { key?: string; json?: unknown }): Promise<Response>;
}

/**
 * The real app and adapters (Upstash Redis, R2, onnxruntime-web) with env overrides, and the
 * ingest queue replaced by a recorder so tests can read the prediction log and registry notices.
 */
export function testApp(overrides: Record<string, unknown> = {}): TestApp {
  const queue = new RecordingQueue();
  // Everything the app queues (predictions, model registry notices) is recorded.
  const parsed = parseWorkerEnv({ ...rawEnv, INGEST_QUEUE: queue, ...overrides });
  const services: Services = {
    ...buildServices(parsed),
    predictionLog: new QueuePredictionLog(queue),
  };
  return { services, queue, fetch: appFetch(createApp(() => services)) };
}

/**
 * `fetch` for the app in-process: `key` becomes a bearer token, `json` the body (with a JSON
 * Content-Type unless one is given); waits for the app's `waitUntil` work, like the runtime does
 * after a response. The method defaults to `defaultMethod`, else POST with `json` and GET without.
 */
export function appFetch(
  app: ReturnType<typeof createApp>,
  defaultMethod?: string,
): TestApp["fetch"] {
  return async (path, init = {}) => {
    const { key, json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key) headers.set("authorization", `Bearer ${key}`);
    let body = rest.body;
    if (json !== undefined) {
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      body = JSON.stringify(json);
    }
    const pending: Promise<unknown>[] = [];
    const ctx = {
      waitUntil: (p: Promise<unknown>) => pending.push(p),
      passThroughOnException: () => undefined,
      props: {},
    } as unknown as ExecutionContext;
    const method = defaultMethod ?? (json !== undefined ? "POST" : "GET");
    const res = await app.request(
      `http://driftline.test${path}`,
      { method, ...rest, headers, body },
      rawEnv,
      ctx,
    );
    await Promise.all(pending);
    return res;
  };
}

/** multipart/form-data body for an upload. */
export function uploadForm(model: ArrayBuffer | Uint8Array, manifest: unknown): FormData {
  const form = new FormData();
  form.set(
    "model",
    new File([new Uint8Array(model)], "model.onnx", { type: "application/octet-stream" }),
  );
  form.set(
    "manifest",
    new File(
      [typeof manifest === "string" ? manifest : JSON.stringify(manifest)],
      "manifest.json",
      {
        type: "application/json",
      },
    ),
  );
  return form;
}

export async function uploadFixture(
  app: TestApp,
  key: string,
  fixture: FixtureName,
  name: string,
  version: string,
): Promise<Response> {
  return app.fetch(`/v1/models/${name}/versions/${version}`, {
    method: "PUT",
    key,
    body: uploadForm(FIXTURES[fixture].model, FIXTURES[fixture].manifest),
  });
}

export interface ErrorJson {
  error: {
    code: string;
    message: string;
    requestId: string;
    details?: { issues?: { field: string; message: string }[] };
  };
}
