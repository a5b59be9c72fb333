/**
 * The delivery service's batch handler: forwards a batch's events to the tenants' destinations,
 * retries transient failures with back-off, dead-letters what a destination refuses for good,
 * then records every request's answer and moves the stored offset in one transaction.
 */
import pLimit from "p-limit";
import type { Logger } from "pino";
import { type BackoffSpec, backoffMs } from "../batch/backoff-ms";
import type { BatchTransactions } from "../batch/batch-transaction";
import type { Queryable } from "../db/timed-query";
import { type DeadLetter, type DeadLetterSink, letterFor } from "../kafka/dead-letter-sink";
import type { BatchControl, BatchHandler, BatchOutcome, SourceBatch } from "../kafka/event-source";
import type { DestinationDirectory } from "./destination-directory";
import type { DestinationSender } from "./destination-sender";
import {
  type DeliveryItem,
  type DeliveryRequest,
  planDeliveries,
  readForwardable,
} from "./plan-deliveries";

/** One request's final answer, stored in `destination_batches`. */
export interface BatchRecord {
  tenant: string;
  destinationId: string;
  status: "delivered" | "dead-lettered";
  events: number;
  attempts: number;
  httpStatus: number | null;
  eventsReceived: number | null;
  fbtraceId: string | null;
  messages: string[];
  error: string | null;
}

export interface DeliveryObserver {
  delivered(events: number): void;
  deadLettered(events: number): void;
  retrying(reason: string): void;
}

export interface DeliveryBatchHandlerDeps {
  directory: DestinationDirectory;
  sender: DestinationSender;
  transactions: Pick<BatchTransactions, "inTransaction">;
  deadLetters: DeadLetterSink;
  groupId: string;
  backoff: BackoffSpec;
  log: Logger;
  observer?: DeliveryObserver;
  sleep?: (ms: number) => Promise<void>;
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
 * (the batch answers, the offsets) is exactly once: both commit in one transaction, fenced by the
 * stored offset. Records whose tenant has no destination only move the offset.
 */
export function createDeliveryBatchHandler(deps: DeliveryBatchHandlerDeps): BatchHandler {
  const sleep = deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));

  async function waitToRetry(attempt: number, control: BatchControl): Promise<boolean> {
    let remaining = backoffMs(attempt, deps.backoff);
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
        deps.observer?.retrying(what);
        if (!(await waitToRetry(attempt, control))) return ABANDONED;
      }
    }
  }

  /** Sends one request until it has a final answer; splits it to find refused events. */
  async function deliver(
    request: DeliveryRequest,
    batch: SourceBatch,
    control: BatchControl,
    out: { records: BatchRecord[]; letters: DeadLetter[] },
  ): Promise<typeof ABANDONED | undefined> {
    const { destination, testEventCode, items } = request;
    for (let attempt = 1; ; attempt++) {
      const outcome = await deps.sender.send(
        destination,
        items.map((i) => i.event),
        testEventCode,
      );
      const base = {
        tenant: destination.tenant,
        destinationId: destination.id,
        events: items.length,
        attempts: attempt,
      };
      if (outcome.kind === "delivered") {
        out.records.push({
          ...base,
          status: "delivered",
          httpStatus: 200,
          eventsReceived: outcome.eventsReceived,
          fbtraceId: outcome.fbtraceId,
          messages: outcome.messages,
          error: null,
        });
        deps.observer?.delivered(items.length);
        return undefined;
      }
      if (outcome.kind === "transient") {
        deps.log.warn(
          {
            tenant: destination.tenant,
            destination: destination.id,
            events: items.length,
            attempt,
            reason: outcome.reason,
          },
          "destination unavailable; holding the batch and retrying",
        );
        deps.observer?.retrying("deliver");
        if (!(await waitToRetry(attempt, control))) return ABANDONED;
        continue;
      }
      // Meta refuses a whole request for one bad event: halve it until the bad ones stand alone.
      if (outcome.scope === "events" && items.length > 1) {
        const mid = Math.floor(items.length / 2);
        for (const half of [items.slice(0, mid), items.slice(mid)]) {
          const done = await deliver({ ...request, items: half }, batch, control, out);
          if (done === ABANDONED) return ABANDONED;
        }
        return undefined;
      }
      const reason = `${destination.kind} destination ${destination.id} (pixel ${destination.settings.pixelId}) refused ${items.length === 1 ? "the event" : `${items.length} events`}: ${outcome.reason}`;
      deps.log.error(
        {
          tenant: destination.tenant,
          destination: destination.id,
          events: items.length,
          reason: outcome.reason,
          fbtraceId: outcome.fbtraceId,
        },
        "destination refused events for good; dead-lettering them",
      );
      out.letters.push(
        ...items.map((i: DeliveryItem) => letterFor(batch, i.record, reason, "deliver")),
      );
      out.records.push({
        ...base,
        status: "dead-lettered",
        httpStatus: outcome.httpStatus,
        eventsReceived: null,
        fbtraceId: outcome.fbtraceId,
        messages: [],
        error: outcome.reason.slice(0, 1024),
      });
      deps.observer?.deadLettered(items.length);
      return undefined;
    }
  }

  async function commit(
    batch: SourceBatch,
    records: readonly BatchRecord[],
    control: BatchControl,
  ): Promise<BatchOutcome> {
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
        if (records.length > 0) await insertBatchRecords(tx.sql, records);
        return { kind: "committed" };
      }),
    );
    return result === ABANDONED ? { kind: "abandoned" } : result;
  }

  return async function handleDeliveryBatch(batch, control) {
    const messages = batch.records.flatMap((record) => {
      const message = readForwardable(record.value);
      return message === undefined ? [] : [{ record, message }];
    });
    const out = { records: [] as BatchRecord[], letters: [] as DeadLetter[] };
    if (messages.length > 0) {
      const tenants = [...new Set(messages.map((m) => m.message.tenant))];
      const directory = await retrying("destination lookup", control, () =>
        deps.directory.destinationsOf(tenants),
      );
      if (directory === ABANDONED) return async () => ({ kind: "abandoned" });
      // Requests of one batch go out a few at a time: each waits mostly on the destination.
      const limit = pLimit(REQUESTS_IN_FLIGHT);
      const done = await Promise.all(
        planDeliveries(messages, directory).map((request) =>
          limit(() => deliver(request, batch, control, out)),
        ),
      );
      if (done.includes(ABANDONED)) return async () => ({ kind: "abandoned" });
    }
    if (out.letters.length > 0) {
      const sent = await retrying("dead-letter", control, () => deps.deadLetters.send(out.letters));
      if (sent === ABANDONED) return async () => ({ kind: "abandoned" });
    }
    return () => commit(batch, out.records, control);
  };
}

async function insertBatchRecords(sql: Queryable, records: readonly BatchRecord[]): Promise<void> {
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
