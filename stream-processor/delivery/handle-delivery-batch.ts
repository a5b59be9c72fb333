/**
 * The delivery service's batch handler: forwards a batch's events to the tenants' destinations,
 * retries transient failures with back-off, parks the events of a destination that keeps
 * failing (so the other destinations on the same partitions go on), dead-letters what a
 * destination refuses for good, then records every request's answer, the parked events and the
 * stored offset in one transaction.
 */
import pLimit from "p-limit";
import type { Logger } from "pino";
import { type BackoffSpec, backoffMs } from "../batch/backoff-ms";
import type { BatchTransactions } from "../batch/batch-transaction";
import type { Queryable } from "../db/timed-query";
import type { DeadLetterSink } from "../kafka/dead-letter-sink";
import type { BatchControl, BatchHandler, BatchOutcome, SourceBatch } from "../kafka/event-source";
import {
  type BatchRecord,
  type DeliveryObserver,
  type DeliveryResults,
  deliverRequest,
  emptyResults,
  noDeliveryObserver,
  type TransientDecision,
} from "./deliver-request";
import type { DestinationDirectory } from "./destination-directory";
import type { DestinationPauses } from "./destination-pauses";
import type { DestinationSender } from "./destination-sender";
import { readForwardable } from "./forwardable-message";
import { insertParked, sealParked } from "./parked-events";
import { planDeliveries } from "./plan-deliveries";

export type { BatchRecord } from "./deliver-request";

export interface DeliveryBatchObserver extends DeliveryObserver {
  retrying(operation: string): void;
  /** From receiving a batch to its answers and offset being committed. */
  batchSeconds(seconds: number, events: number): void;
}

export interface DeliveryBatchHandlerDeps {
  directory: DestinationDirectory;
  sender: DestinationSender;
  transactions: Pick<BatchTransactions, "inTransaction">;
  deadLetters: DeadLetterSink;
  groupId: string;
  backoff: BackoffSpec;
  /** Paused destinations, shared with the resumer of parked events. */
  pauses: DestinationPauses;
  /** How long a request may keep failing transiently before its destination is paused, ms. */
  pauseAfterMs: number;
  /** DESTINATION_ENCRYPTION_KEY: parked events are stored sealed with it. */
  key: CryptoKey;
  log: Logger;
  observer?: DeliveryBatchObserver;
  sleep?: (ms: number) => Promise<void>;
  nowMs?: () => number;
}

const ABANDONED = Symbol("abandoned");
/** Requests of one batch in flight at once. */
const REQUESTS_IN_FLIGHT = 4;
/** Longest single sleep between heartbeats while waiting to retry, ms. */
const HEARTBEAT_SLICE_MS = 1_000;

/**
 * Delivery is at least once towards the destination: a crash after Meta took a request and
 * before its offsets committed sends that request again on restart, and Meta deduplicates it by
 * (event_name, event_id), which every forwarded event carries. Everything Driftline records
 * (the batch answers, the parked events, the offsets) is exactly once: all commit in one
 * transaction, fenced by the stored offset. Records whose tenant has no destination only move
 * the offset.
 *
 * A batch's requests go out as soon as it is prepared; its commit waits for their answers. The
 * source meanwhile prepares the partition's next batch (whose requests then overlap with this
 * one's) and commits a partition's batches in order.
 */
export function createDeliveryBatchHandler(deps: DeliveryBatchHandlerDeps): BatchHandler {
  const sleep = deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.nowMs ?? Date.now;
  const observer = deps.observer ?? {
    ...noDeliveryObserver,
    retrying: () => {},
    batchSeconds: () => {},
  };

  async function waitToRetry(waitMs: number, control: BatchControl): Promise<boolean> {
    let remaining = waitMs;
    while (remaining > 0) {
      if (!control.isRunning()) return false;
      const slice = Math.min(remaining, HEARTBEAT_SLICE_MS);
      await sleep(slice);
      remaining -= slice;
      try {
        await control.heartbeat();
      } catch {
        return false; // the group rebalanced: another member takes the partition over
      }
    }
    return control.isRunning();
  }

  async function retrying<T>(
    what: string,
    control: BatchControl,
    fn: () => Promise<T>,
  ): Promise<T | typeof ABANDONED> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        deps.log.warn({ err: error, attempt }, `${what} failed; retrying`);
        observer.retrying(what);
        if (!(await waitToRetry(backoffMs(attempt, deps.backoff), control))) return ABANDONED;
      }
    }
  }

  /** Retry within the pause delay; past it the destination is paused and its events parked. */
  const decide =
    (control: BatchControl): TransientDecision =>
    async (request, outcome, attempt, failingSinceMs) => {
      const { destination } = request;
      if (deps.pauses.isPaused(destination.id)) return "park";
      const leftMs = deps.pauseAfterMs - (now() - failingSinceMs);
      if (leftMs <= 0) {
        const paused = deps.pauses.pause({
          tenant: destination.tenant,
          destinationId: destination.id,
          kind: destination.kind,
          sinceMs: now(),
          reason: outcome.reason,
        });
        if (paused) {
          deps.log.warn(
            { tenant: destination.tenant, destination: destination.id, reason: outcome.reason },
            "destination paused: its events are parked until it answers again",
          );
        }
        return "park";
      }
      deps.log.warn(
        {
          tenant: destination.tenant,
          destination: destination.id,
          events: request.items.length,
          attempt,
          reason: outcome.reason,
        },
        "destination unavailable; holding its events and retrying",
      );
      observer.retrying("deliver");
      const waitMs = Math.min(backoffMs(attempt, deps.backoff), leftMs);
      if (!(await waitToRetry(waitMs, control))) return "abandon";
      return deps.pauses.isPaused(destination.id) ? "park" : "retry";
    };

  /** Sends the batch's requests (parking those of paused destinations); never rejects. */
  async function forward(
    batch: SourceBatch,
    control: BatchControl,
  ): Promise<DeliveryResults | typeof ABANDONED> {
    const messages = batch.records.flatMap((record) => {
      const message = readForwardable(record.value);
      return message === undefined
        ? []
        : [{ topic: batch.topic, partition: batch.partition, record, message }];
    });
    const out = emptyResults();
    if (messages.length === 0) return out;
    const tenants = [...new Set(messages.map((m) => m.message.tenant))];
    const directory = await retrying("destination lookup", control, () =>
      deps.directory.destinationsOf(tenants),
    );
    if (directory === ABANDONED) return ABANDONED;
    const deliverDeps = {
      sender: deps.sender,
      log: deps.log,
      observer,
      onTransient: decide(control),
      nowMs: now,
    };
    // Requests go out a few at a time: each waits mostly on the destination.
    const limit = pLimit(REQUESTS_IN_FLIGHT);
    const done = await Promise.all(
      planDeliveries(messages, directory).map((request) => {
        const paused = deps.pauses.get(request.destination.id);
        if (paused !== undefined) {
          out.parked.push({ request, reason: paused.reason.slice(0, 1024) });
          observer.parked(request.destination.kind, request.items.length);
          return true;
        }
        return limit(() => deliverRequest(deliverDeps, request, out));
      }),
    );
    return done.includes(false) ? ABANDONED : out;
  }

  async function commit(
    batch: SourceBatch,
    results: DeliveryResults,
    control: BatchControl,
  ): Promise<BatchOutcome> {
    if (results.letters.length > 0) {
      const sent = await retrying("dead-letter", control, () =>
        deps.deadLetters.send(results.letters),
      );
      if (sent === ABANDONED) return { kind: "abandoned" };
    }
    const parked = await Promise.all(results.parked.map((p) => sealParked(deps.key, p)));
    const result = await retrying("delivery commit", control, () =>
      deps.transactions.inTransaction(async (tx): Promise<BatchOutcome> => {
        const moved = await tx.advanceOffset({
          groupId: deps.groupId,
          topic: batch.topic,
          partition: batch.partition,
          expectedNextOffset: batch.expectedNextOffset,
          nextOffset: batch.nextOffset,
        });
        if (!moved.ok) return { kind: "fenced", storedNextOffset: moved.storedNextOffset };
        await insertBatchRecords(tx.sql, results.records);
        await insertParked(tx.sql, parked);
        return { kind: "committed" };
      }),
    );
    return result === ABANDONED ? { kind: "abandoned" } : result;
  }

  return async function handleDeliveryBatch(batch, control) {
    const started = performance.now();
    const work = forward(batch, control).catch((error: unknown): typeof ABANDONED => {
      deps.log.error({ err: error }, "forwarding a batch failed; it will be fetched again");
      return ABANDONED;
    });
    return async () => {
      const results = await work;
      if (results === ABANDONED) return { kind: "abandoned" };
      const outcome = await commit(batch, results, control);
      if (outcome.kind === "committed") {
        observer.batchSeconds((performance.now() - started) / 1000, batch.records.length);
      }
      return outcome;
    };
  };
}

/** Every request's answer in one statement. */
export async function insertBatchRecords(
  sql: Queryable,
  records: readonly BatchRecord[],
): Promise<void> {
  if (records.length === 0) return;
  const col = <T>(f: (r: BatchRecord) => T) => records.map(f);
  await sql.query({
    name: "driftline_insert_destination_batches",
    text: `INSERT INTO destination_batches
       (tenant_id, destination_id, status, events, attempts, http_status, events_received, fbtrace_id, messages, error)
     SELECT t, d::uuid, s, e, a, h, r, f, m::jsonb, x
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::text[], $9::text[], $10::text[])
       AS u(t, d, s, e, a, h, r, f, m, x)`,
    values: [
      col((r) => r.tenant),
      col((r) => r.destinationId),
      col((r) => r.status),
      col((r) => r.events),
      col((r) => r.attempts),
      col((r) => r.httpStatus),
      col((r) => r.eventsReceived),
      col((r) => r.fbtraceId?.slice(0, 128) ?? null),
      col((r) => JSON.stringify(r.messages.slice(0, 100).map((m) => m.slice(0, 500)))),
      col((r) => r.error),
    ],
  });
}
