/**
 * Replays a file of events through the Worker's public ingest API in batches, at a set rate,
 * recording after every acknowledged batch how far it got, so an interrupted replay resumes
 * where it stopped. Answers per event (accepted, duplicate, rejected) are summed.
 */
import { stat } from "node:fs/promises";
import { eventsResponseSchema, MAX_EVENTS_PER_REQUEST } from "#core/events";
import { errorAnswer, sendToWorker, WorkerApiError, type WorkerTarget } from "../worker-api";
import {
  type Rejection,
  type ReplayCounts,
  type ReplayProgress,
  readReplayProgress,
  writeReplayProgress,
} from "./replay-progress";
import { type ReplayFormat, type ReplayRecord, readReplayRecords } from "./replay-source";

export type ReplayRoute =
  | { kind: "events" }
  | { kind: "capi"; pixelId: string; testEventCode?: string };

export interface ReplayOptions {
  file: string;
  format: ReplayFormat;
  target: WorkerTarget;
  route: ReplayRoute;
  /** Events per request, 1–1000. */
  batchSize: number;
  /** Events per second at most; undefined: as fast as the Worker answers. */
  ratePerSecond?: number;
  /** Continue from the progress file instead of the start. */
  resume: boolean;
  /** Called after every acknowledged batch (drives the progress bar). */
  onProgress?: (state: {
    offset: number;
    sizeBytes: number;
    line: number;
    counts: ReplayCounts;
  }) => void;
  /** Retries of a batch the Worker could not take (5xx, network), with backoff; default 5. */
  maxRetries?: number;
}

export interface ReplaySummary extends ReplayCounts {
  /** Where this run started (a resumed run starts past line 0). */
  fromLine: number;
  toLine: number;
  requests: number;
  elapsedMs: number;
  firstRejections: Rejection[];
  /** Counts of the whole file so far (the same as this run's unless resumed). */
  total: ReplayCounts;
  /** False when there was nothing left to send because a previous run finished it. */
  sentAnything: boolean;
}

/** Rejections kept with their reasons (in the summary and the progress file). */
const KEPT_REJECTIONS = 10;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function routePath(route: ReplayRoute): string {
  return route.kind === "events"
    ? "/v1/events"
    : `/v1/capi/${encodeURIComponent(route.pixelId)}/events`;
}

function requestBody(route: ReplayRoute, events: unknown[]): unknown {
  if (route.kind === "events") return { events };
  return { data: events, ...(route.testEventCode ? { test_event_code: route.testEventCode } : {}) };
}

/**
 * Paces sends at `rate` events/s: a batch waits until the time at which the events before it were
 * due (start + sent / rate). Hand-written: a schedule is one line of arithmetic here, and a token
 * bucket library would add a dependency for what the batch loop already does.
 */
function pacer(ratePerSecond: number | undefined) {
  const started = performance.now();
  let sent = 0;
  return {
    async wait(): Promise<void> {
      if (ratePerSecond === undefined) return;
      const due = started + (sent / ratePerSecond) * 1000;
      const now = performance.now();
      if (due > now) await sleep(due - now);
    },
    sent(n: number) {
      sent += n;
    },
  };
}

interface Batch {
  records: ReplayRecord[];
  events: unknown[];
  /** For each event of `events`, its record. */
  lines: number[];
}

export async function replayEvents(options: ReplayOptions): Promise<ReplaySummary> {
  const sizeBytes = (await stat(options.file)).size;
  const destination = `POST ${options.target.url}${routePath(options.route)}`;
  const previous = options.resume ? await readReplayProgress(options.file) : undefined;
  if (previous !== undefined && previous.offset > sizeBytes) {
    throw new Error(
      `${options.file} is ${sizeBytes} bytes, shorter than the ${previous.offset} bytes its progress file records as sent; it changed since, so it cannot be resumed (replay it without --resume)`,
    );
  }
  const progress: ReplayProgress = {
    version: 1,
    inputSizeBytes: sizeBytes,
    destination,
    line: previous?.line ?? 0,
    offset: previous?.offset ?? 0,
    counts: previous?.counts ?? { accepted: 0, duplicates: 0, rejected: 0 },
    firstRejections: previous?.firstRejections ?? [],
    complete: false,
    updatedAt: new Date().toISOString(),
  };
  const run: ReplayCounts = { accepted: 0, duplicates: 0, rejected: 0 };
  const runRejections: Rejection[] = [];
  const fromLine = progress.line;
  const started = performance.now();
  const batchSize = Math.max(
    1,
    Math.min(
      options.batchSize,
      MAX_EVENTS_PER_REQUEST,
      // Under a rate, a batch is at most a tenth of a second's events, so the pace stays even.
      Math.ceil((options.ratePerSecond ?? Infinity) / 10),
    ),
  );
  const pace = pacer(options.ratePerSecond);
  let requests = 0;

  const reject = (line: number, eventId: string | null, reason: string) => {
    run.rejected += 1;
    progress.counts.rejected += 1;
    const rejection = { line, eventId, reason };
    if (runRejections.length < KEPT_REJECTIONS) runRejections.push(rejection);
    if (progress.firstRejections.length < KEPT_REJECTIONS) progress.firstRejections.push(rejection);
  };

  const acknowledge = async (batch: Batch) => {
    const last = batch.records[batch.records.length - 1];
    if (last === undefined) return;
    progress.line = last.line;
    progress.offset = last.endOffset;
    progress.updatedAt = new Date().toISOString();
    await writeReplayProgress(options.file, progress);
    options.onProgress?.({ offset: progress.offset, sizeBytes, line: progress.line, counts: run });
  };

  const send = async (batch: Batch) => {
    if (batch.events.length > 0) {
      await pace.wait();
      const answer = await postBatch(options, batch.events);
      requests += answer.requests;
      pace.sent(batch.events.length);
      if (answer.kind === "refused") {
        for (const line of batch.lines) reject(line, null, answer.reason);
      } else {
        for (const result of answer.body.results) {
          const line = batch.lines[result.index] ?? 0;
          if (result.status === "accepted") {
            run.accepted += 1;
            progress.counts.accepted += 1;
          } else if (result.status === "duplicate") {
            run.duplicates += 1;
            progress.counts.duplicates += 1;
          } else {
            // Fields are named within the event (`events.3.event_time` → `event_time`).
            const why = (result.errors ?? [])
              .map(
                (e) => `${e.field.replace(/^(events|data)\.\d+\.?/, "") || "event"}: ${e.message}`,
              )
              .join("; ");
            reject(line, result.eventId, why || "rejected");
          }
        }
      }
    }
    await acknowledge(batch);
  };

  let batch: Batch = { records: [], events: [], lines: [] };
  for await (const record of readReplayRecords(options.file, options.format, {
    offset: progress.offset,
    line: progress.line,
  })) {
    batch.records.push(record);
    if (record.problem !== undefined) reject(record.line, null, record.problem);
    else {
      batch.events.push(record.event);
      batch.lines.push(record.line);
    }
    if (batch.events.length >= batchSize) {
      await send(batch);
      batch = { records: [], events: [], lines: [] };
    }
  }
  await send(batch);
  progress.complete = true;
  await writeReplayProgress(options.file, progress);
  return {
    ...run,
    fromLine,
    toLine: progress.line,
    requests,
    elapsedMs: performance.now() - started,
    firstRejections: runRejections.sort((a, b) => a.line - b.line),
    total: progress.counts,
    sentAnything: progress.line > fromLine,
  };
}

type BatchAnswer =
  | { kind: "answered"; body: ReturnType<typeof eventsResponseSchema.parse>; requests: number }
  | { kind: "refused"; reason: string; requests: number };

/**
 * Sends one batch until the Worker takes it: 202 → its per-event answer; 400/422 → the whole
 * batch refused (counted as rejected, the replay goes on); 429 → waits as told and sends again;
 * 5xx or no answer → retried with backoff, then a failure (the progress file keeps what was
 * acknowledged); any other answer (401, 403, 413…) → a failure at once.
 */
async function postBatch(options: ReplayOptions, events: unknown[]): Promise<BatchAnswer> {
  const call = {
    method: "POST" as const,
    path: routePath(options.route),
    json: requestBody(options.route, events),
  };
  const maxRetries = options.maxRetries ?? 5;
  let failures = 0;
  for (let requests = 1; ; requests += 1) {
    let res: Response | undefined;
    let problem: string;
    try {
      res = await sendToWorker(options.target, call);
    } catch (error) {
      if (!(error instanceof WorkerApiError)) throw error;
      problem = error.message;
    }
    if (res !== undefined) {
      if (res.status === 202 || res.status === 200) {
        const parsed = eventsResponseSchema.safeParse(await res.json().catch(() => undefined));
        if (!parsed.success) {
          throw new WorkerApiError(
            `${call.path} answered ${res.status} with a body that is not an events answer (is ${options.target.url} a Driftline Worker?)`,
            res.status,
          );
        }
        return { kind: "answered", body: parsed.data, requests };
      }
      problem = await errorAnswer(call, res);
      if (res.status === 400 || res.status === 422)
        return { kind: "refused", reason: problem, requests };
      if (res.status === 429) {
        const retryAfterSeconds = Number(res.headers.get("retry-after") ?? "1");
        await sleep(Math.min(60, Math.max(0.1, retryAfterSeconds || 1)) * 1000);
        continue;
      }
      if (res.status < 500) throw new WorkerApiError(problem, res.status);
    }
    failures += 1;
    if (failures > maxRetries) {
      throw new WorkerApiError(
        `${problem!} (gave up after ${failures} attempts; run again with --resume to continue from the last acknowledged batch)`,
        res?.status,
      );
    }
    await sleep(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1)));
  }
}
