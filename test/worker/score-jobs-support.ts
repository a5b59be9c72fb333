/** What the bulk scoring job Worker tests share: the job's JSON, a recording chunk queue, delivered batches, synthetic rows. */
import type { ScoreJobMessage } from "#core/score-jobs";
import worker from "../../src/worker";
import { rawEnv, testApp } from "./support";

export interface JobJson {
  id: string;
  model: string;
  version: string;
  format: string;
  status: string;
  rowsReceived: number;
  progress: { rowsDone: number; rowsTotal: number; chunksDone: number; chunksTotal: number };
  counts: { scored: number; failed: number };
  errors: { row: number; field: string; message: string }[];
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** SCORE_JOBS_QUEUE that keeps the chunk messages, for the test to deliver. */
export class ChunkQueue {
  readonly messages: ScoreJobMessage[] = [];
  async send(body: ScoreJobMessage): Promise<void> {
    this.messages.push(body);
  }
  async sendBatch(batch: Iterable<MessageSendRequest<ScoreJobMessage>>): Promise<void> {
    const list = [...batch];
    if (list.length > 100) throw new Error(`sendBatch got ${list.length} messages (max 100)`);
    for (const m of list) this.messages.push(m.body);
  }
  take(): ScoreJobMessage[] {
    return this.messages.splice(0);
  }
}

/** A delivered batch: what the handler acked and retried. */
export class Batch {
  readonly acked: string[] = [];
  readonly retried: string[] = [];
  readonly messages: Message<unknown>[];
  readonly queue = "driftline-score-jobs";
  constructor(bodies: readonly ScoreJobMessage[], attempts = 1) {
    this.messages = bodies.map((body, i) => ({
      id: `m-${i}`,
      body,
      attempts,
      timestamp: new Date(),
      ack: () => this.acked.push(`m-${i}`),
      retry: () => this.retried.push(`m-${i}`),
    }));
  }
  ackAll(): void {}
  retryAll(): void {}
}

export const CHUNK_ROWS = 5_000;

export function setup(overrides: Record<string, unknown> = {}) {
  const queue = new ChunkQueue();
  const env = {
    ...rawEnv,
    SCORE_JOBS_QUEUE: queue,
    SCORE_JOB_CHUNK_ROWS: CHUNK_ROWS,
    ...overrides,
  };
  const app = testApp(env);
  /** Runs the Worker's queue handler on these messages, as one delivered batch. */
  const deliver = async (bodies: readonly ScoreJobMessage[], attempts = 1): Promise<Batch> => {
    const batch = new Batch(bodies, attempts);
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} };
    await (
      worker as unknown as {
        queue(b: MessageBatch, e: unknown, c: ExecutionContext): Promise<void>;
      }
    ).queue(batch as unknown as MessageBatch, env, ctx as unknown as ExecutionContext);
    return batch;
  };
  return { app, queue, deliver };
}

/** A body sent in pieces of `size` bytes, so the upload is read as a stream of odd cuts. */
export function streamed(text: string, size = 65_521): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

export const COLUMNS = [
  "entityId",
  "sessions_7d",
  "pages_per_session",
  "time_on_site_s",
  "cart_value",
  "days_since_last_visit",
  "is_returning",
  "has_discount_code",
  "hour_of_day",
  "device",
  "traffic_source",
] as const;
const DEVICES = ["desktop", "mobile", "tablet"];
const SOURCES = ["organic", "paid_search", "social", "email", "direct"];
export type Features = Record<string, number | string>;

/** A deterministic row of features (a small LCG: the same file every run). */
export function syntheticRow(i: number): Features {
  let s = (i * 2654435761) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return {
    sessions_7d: Math.floor(next() * 12),
    pages_per_session: Math.round(next() * 800) / 100,
    time_on_site_s: Math.floor(next() * 900),
    cart_value: Math.round(next() * 30_000) / 100,
    days_since_last_visit: Math.round(next() * 600) / 10,
    is_returning: next() < 0.5 ? 0 : 1,
    has_discount_code: next() < 0.8 ? 0 : 1,
    hour_of_day: Math.floor(next() * 24),
    device: DEVICES[Math.floor(next() * 3)]!,
    traffic_source: SOURCES[Math.floor(next() * 5)]!,
  };
}

export const csvLine = (entityId: string, f: Features) =>
  [entityId, ...COLUMNS.slice(1).map((c) => String(f[c] ?? ""))].join(",");

export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
