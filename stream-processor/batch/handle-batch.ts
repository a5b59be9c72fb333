/** The transactional batch handler: decode, dead-letter poison, commit results and offsets in one transaction with retries, isolate what the database refuses. */
import type { Logger } from "pino";
import { isDriftlineError } from "#core/errors";
import type { Clock } from "../clock/clock";
import { type DeadLetter, type DeadLetterSink, letterFor } from "../kafka/dead-letter-sink";
import type {
  BatchControl,
  BatchHandler,
  BatchOutcome,
  CommitBatch,
  SourceBatch,
} from "../kafka/event-source";
import type { BackoffSpec } from "./backoff-ms";
import { ABANDONED, holdAndRetry } from "./hold-and-retry";

/** What the handler reports for metrics; implemented with prom-client in observability/. */
export interface BatchObserver {
  batchCommitted(info: {
    topic: string;
    partition: number;
    records: number;
    counted: number;
    duplicates: number;
    deadLettered: number;
    /** Well-formed records the metrics do not count (test events). */
    skipped?: number;
    durationMs: number;
    highWatermark: string;
    nextOffset: string;
  }): void;
  retrying(info: { topic: string; partition: number; operation: string }): void;
  fenced(info: { topic: string; partition: number }): void;
}

/** A batch decoded outside the transaction. */
export interface PreparedBatch<R> {
  batch: SourceBatch;
  /** Records to commit, in offset order (in-batch repeats already left out). */
  accepted: R[];
  /** Records whose dedup key occurred earlier in the same batch. */
  inBatchDuplicates: number;
  /** Well-formed records that are not committed (test events). */
  skipped: number;
  /** Records that cannot be decoded. */
  deadLetters: DeadLetter[];
}

/** The offsets a commit moves: the stored offset of one partition, from expected to next. */
export interface OffsetRange {
  topic: string;
  partition: number;
  expectedNextOffset: string | null;
  nextOffset: string;
}

export type CommitResult =
  /** `refused`: records the commit dead-lettered itself (CommitContext.deadLetterRefused). */
  | { kind: "committed"; counted: number; duplicates: number; refused?: number }
  | { kind: "fenced"; storedNextOffset: string | null };

/** A record the database refused, by its offset, and what it said. */
export interface RefusedRecord {
  offset: string;
  reason: string;
}

export interface CommitContext {
  /**
   * Dead-letters records the database refused, from inside the commit's transaction, before the
   * offsets commit; throws when the dead-letter topic is unavailable, so the batch rolls back and
   * is retried, and no refused record is lost.
   */
  deadLetterRefused(refused: readonly RefusedRecord[]): Promise<void>;
}

/**
 * Commits records and moves `range`'s stored offset in one transaction. Resolves `fenced` when
 * the stored offset was not the expected one (nothing is written then); rejects with a
 * ValidationError when the database refuses the records' data, with anything else when it
 * cannot be reached.
 */
export interface BatchCommitter<R> {
  commit(records: readonly R[], range: OffsetRange, context: CommitContext): Promise<CommitResult>;
}

export interface BatchHandlerDeps<R extends { offset: string }> {
  /** Decodes a batch (outside the transaction); runs for one batch at a time. */
  prepare(batch: SourceBatch): Promise<PreparedBatch<R>>;
  committer: BatchCommitter<R>;
  deadLetters: DeadLetterSink;
  clock: Clock;
  backoff: BackoffSpec;
  log: Logger;
  observer: BatchObserver;
  /** Names the records in log messages, e.g. `registry ` (default: none). */
  logPrefix?: string;
}

/**
 * Poison records (cannot be decoded) are dead-lettered before the commit. Records the database
 * refuses as data are dead-lettered too: either by the commit itself, inside its transaction
 * (CommitContext), or, when the commit throws a ValidationError, by bisecting the batch into
 * smaller commits until the one refused record is found. Everything else (database or Kafka
 * unavailable, a rebalance-free timeout, an unexpected error) is retried with back-off, holding
 * the batch, until it succeeds or the source stops. Nothing is skipped silently.
 */
export function createBatchHandler<R extends { offset: string }>(
  deps: BatchHandlerDeps<R>,
): BatchHandler {
  const { committer, log, observer, clock } = deps;
  const prefix = deps.logPrefix ?? "";
  /**
   * Batches are decoded one at a time, in the order they arrive. Decoding yields to the event
   * loop every few hundred records; with every partition decoding at once, each pass of the loop
   * ran a slice of each of them before the answer to the transaction's last statement was read,
   * and the batch transactions (one statement after another, one transaction at a time) waited
   * on that. One at a time costs no throughput: it is one thread either way.
   */
  let decoding: Promise<unknown> = Promise.resolve();
  const decodeInTurn = (batch: SourceBatch): Promise<PreparedBatch<R>> => {
    const prepared = decoding.then(() => deps.prepare(batch));
    decoding = prepared.catch(() => {});
    return prepared;
  };

  return async function handleBatch(
    batch: SourceBatch,
    control: BatchControl,
  ): Promise<CommitBatch> {
    const startedMs = clock.nowMs();
    const prepared = await decodeInTurn(batch);
    if (prepared.deadLetters.length > 0) {
      for (const l of prepared.deadLetters) {
        log.warn(
          { topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason },
          `dead-lettering a ${prefix}record that cannot be decoded`,
        );
      }
      const sent = await retrying("dead-letter", batch, control, () =>
        deps.deadLetters.send(prepared.deadLetters),
      );
      if (sent === ABANDONED) return async (): Promise<BatchOutcome> => ({ kind: "abandoned" });
    }
    return () => commitPrepared(prepared, control, startedMs);
  };

  async function commitPrepared(
    prepared: PreparedBatch<R>,
    control: BatchControl,
    startedMs: number,
  ): Promise<BatchOutcome> {
    const { batch } = prepared;
    const range: OffsetRange = {
      topic: batch.topic,
      partition: batch.partition,
      expectedNextOffset: batch.expectedNextOffset,
      nextOffset: batch.nextOffset,
    };
    const totals = { counted: 0, duplicates: prepared.inBatchDuplicates, refused: 0 };
    const outcome = await commitIsolatingRefused(prepared.accepted, range, batch, control, totals);
    if (outcome === ABANDONED) return { kind: "abandoned" };
    if (outcome.kind === "fenced") {
      observer.fenced({ topic: batch.topic, partition: batch.partition });
      log.warn(
        { topic: batch.topic, partition: batch.partition, stored: outcome.storedNextOffset },
        "stored offset moved under this consumer (another member owns the partition now); re-reading it",
      );
      return { kind: "fenced", storedNextOffset: outcome.storedNextOffset };
    }
    observer.batchCommitted({
      topic: batch.topic,
      partition: batch.partition,
      records: batch.records.length,
      counted: totals.counted,
      duplicates: totals.duplicates,
      deadLettered: prepared.deadLetters.length + totals.refused,
      skipped: prepared.skipped,
      durationMs: clock.nowMs() - startedMs,
      highWatermark: batch.highWatermark,
      nextOffset: batch.nextOffset,
    });
    return { kind: "committed" };
  }

  /** Commits `records` over `range`; on a data refusal, splits in two at a record offset and recurses. */
  async function commitIsolatingRefused(
    records: readonly R[],
    range: OffsetRange,
    batch: SourceBatch,
    control: BatchControl,
    totals: { counted: number; duplicates: number; refused: number },
  ): Promise<CommitResult | typeof ABANDONED> {
    const context: CommitContext = {
      deadLetterRefused: (refused) => {
        for (const r of refused) logRefused(batch, r.offset, refusalReason(r.reason));
        return deps.deadLetters.send(
          refused.map((r) => storeLetter(batch, r.offset, refusalReason(r.reason))),
        );
      },
    };
    let result: CommitResult | typeof ABANDONED;
    try {
      result = await retrying("commit", batch, control, () =>
        committer.commit(records, range, context),
      );
    } catch (error) {
      if (!isRefusal(error)) throw error;
      if (records.length === 1) {
        const offset = records[0]!.offset;
        const reason = refusalReason((error as Error).message);
        logRefused(batch, offset, reason);
        const sent = await retrying("dead-letter", batch, control, () =>
          deps.deadLetters.send([storeLetter(batch, offset, reason)]),
        );
        if (sent === ABANDONED) return ABANDONED;
        totals.refused += 1;
        return commitIsolatingRefused([], range, batch, control, totals);
      }
      if (records.length === 0) throw error;
      const mid = Math.floor(records.length / 2);
      const splitOffset = records[mid]!.offset;
      const first = await commitIsolatingRefused(
        records.slice(0, mid),
        { ...range, nextOffset: splitOffset },
        batch,
        control,
        totals,
      );
      if (first === ABANDONED || first.kind === "fenced") return first;
      return commitIsolatingRefused(
        records.slice(mid),
        { ...range, expectedNextOffset: splitOffset },
        batch,
        control,
        totals,
      );
    }
    if (result !== ABANDONED && result.kind === "committed") {
      totals.counted += result.counted;
      totals.duplicates += result.duplicates;
      totals.refused += result.refused ?? 0;
    }
    return result;
  }

  function logRefused(batch: SourceBatch, offset: string, reason: string): void {
    log.error(
      { topic: batch.topic, partition: batch.partition, offset, reason },
      `dead-lettering a refused ${prefix}record`,
    );
  }

  /** Runs `fn` until it succeeds, holding the batch (see holdAndRetry). */
  function retrying<T>(
    operation: string,
    batch: SourceBatch,
    control: BatchControl,
    fn: () => Promise<T>,
  ): Promise<T | typeof ABANDONED> {
    return holdAndRetry(deps, {
      operation,
      batch,
      control,
      fn,
      isFatal: isRefusal,
      logPrefix: prefix,
    });
  }
}

/** The store refused the data itself (not a transient failure): retrying cannot help. */
function isRefusal(error: unknown): boolean {
  return isDriftlineError(error) && error.code === "VALIDATION";
}

function refusalReason(what: string): string {
  return `the database refused it: ${what}`;
}

/** The letter of a record the database refused, found in its batch by offset. */
function storeLetter(batch: SourceBatch, offset: string, reason: string): DeadLetter {
  const source = batch.records.find((r) => r.offset === offset);
  return letterFor(
    batch,
    source ?? { offset, key: null, value: null, headers: {} },
    reason,
    "store",
  );
}
