/** The batch handler of the `models` topic: registry changes and the consumed offsets in one transaction. */
import type { Logger } from "pino";
import type { ModelRegistryRecord } from "#core/model-registry-message";
import type { BackoffSpec } from "../batch/backoff-ms";
import type { BatchTransactions } from "../batch/batch-transaction";
import type { BatchObserver } from "../batch/handle-batch";
import { ABANDONED, holdAndRetry } from "../batch/hold-and-retry";
import type { Clock } from "../clock/clock";
import type { DeadLetter, DeadLetterSink } from "../kafka/dead-letter-sink";
import type {
  BatchControl,
  BatchHandler,
  BatchOutcome,
  SourceBatch,
  SourceRecord,
} from "../kafka/event-source";
import { decodeRegistryRecord } from "./decode-registry-record";
import type { OpenModelRegistry, RegistryApplyOutcome } from "./model-registry-store";

export interface RegistryBatchHandlerDeps {
  /** Batch transactions: they hold the consumed offsets. */
  transactions: Pick<BatchTransactions, "inTransaction">;
  openRegistry: OpenModelRegistry;
  deadLetters: DeadLetterSink;
  /** Consumer group whose offsets are stored (the same group as the metrics). */
  groupId: string;
  clock: Clock;
  backoff: BackoffSpec;
  log: Logger;
  observer: BatchObserver;
}

interface Decoded {
  source: SourceRecord;
  record: ModelRegistryRecord;
}

type Committed =
  | {
      kind: "committed";
      applied: { record: ModelRegistryRecord; outcome: RegistryApplyOutcome }[];
      refused: number;
    }
  | { kind: "fenced"; storedNextOffset: string | null };

/**
 * Exactly-once effect like the metrics: the offset compare-and-set and every registry write of
 * a batch commit together, and the writes are idempotent besides (a repeated record changes
 * nothing). Records that cannot be decoded are dead-lettered before the commit; a record
 * Postgres refuses is dead-lettered inside the transaction, before the offsets commit, so none
 * is lost. Anything else (database or dead-letter topic unavailable) is retried with back-off,
 * holding the batch, until it succeeds or the source stops. Registry traffic is a few records
 * per upload or promotion, so there is no group commit here.
 */
export function createRegistryBatchHandler(deps: RegistryBatchHandlerDeps): BatchHandler {
  const { log, observer, clock } = deps;

  return async function handleRegistryBatch(batch, control) {
    const startedMs = clock.nowMs();
    const decoded: Decoded[] = [];
    const poison: DeadLetter[] = [];
    for (const source of batch.records) {
      const result = decodeRegistryRecord(source.value);
      if (result.ok) decoded.push({ source, record: result.record });
      else poison.push(letter(batch, source, result.reason, "decode"));
    }
    if (poison.length > 0) {
      for (const l of poison) {
        log.warn(
          { topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason },
          "dead-lettering a registry record that cannot be decoded",
        );
      }
      const sent = await retrying("dead-letter", batch, control, () =>
        deps.deadLetters.send(poison),
      );
      if (sent === ABANDONED) return async (): Promise<BatchOutcome> => ({ kind: "abandoned" });
    }

    return async (): Promise<BatchOutcome> => {
      const result = await retrying("commit", batch, control, () => commit(batch, decoded));
      if (result === ABANDONED) return { kind: "abandoned" };
      if (result.kind === "fenced") {
        observer.fenced({ topic: batch.topic, partition: batch.partition });
        log.warn(
          { topic: batch.topic, partition: batch.partition, stored: result.storedNextOffset },
          "stored offset moved under this consumer (another member owns the partition now); re-reading it",
        );
        return { kind: "fenced", storedNextOffset: result.storedNextOffset };
      }
      let applied = 0;
      let unchanged = 0;
      for (const { record, outcome } of result.applied) {
        const where = { tenant: record.tenant, model: record.name, version: record.version };
        if (outcome.kind === "applied") {
          applied += 1;
          log.info(
            record.action === "uploaded"
              ? { ...where, trimmed: record.trimmed }
              : { ...where, active: record.active },
            record.action === "uploaded"
              ? "model version registered"
              : "model promotion registered",
          );
        } else {
          unchanged += 1;
          if (outcome.kind === "stale" && record.action === "promoted") {
            log.info(
              { ...where, promotedAt: record.active.promotedAt, held: outcome.heldPromotedAt },
              "ignoring a promotion older than the registered one",
            );
          }
        }
      }
      observer.batchCommitted({
        topic: batch.topic,
        partition: batch.partition,
        records: batch.records.length,
        counted: applied,
        duplicates: unchanged,
        deadLettered: poison.length + result.refused,
        durationMs: clock.nowMs() - startedMs,
        highWatermark: batch.highWatermark,
        nextOffset: batch.nextOffset,
      });
      return { kind: "committed" };
    };
  };

  function commit(batch: SourceBatch, decoded: readonly Decoded[]): Promise<Committed> {
    return deps.transactions.inTransaction(async (tx): Promise<Committed> => {
      const advanced = await tx.advanceOffset({
        groupId: deps.groupId,
        topic: batch.topic,
        partition: batch.partition,
        expectedNextOffset: batch.expectedNextOffset,
        nextOffset: batch.nextOffset,
      });
      // Nothing was written: committing the empty transaction is the same as rolling it back.
      if (!advanced.ok) return { kind: "fenced", storedNextOffset: advanced.storedNextOffset };
      if (decoded.length === 0) return { kind: "committed", applied: [], refused: 0 };
      const registry = deps.openRegistry(tx);
      const applied: { record: ModelRegistryRecord; outcome: RegistryApplyOutcome }[] = [];
      const refused: DeadLetter[] = [];
      for (const d of decoded) {
        const outcome = await registry.apply(d.record);
        if (outcome.kind === "refused") {
          const reason = `the database refused it: ${outcome.reason}`;
          log.error(
            { topic: batch.topic, partition: batch.partition, offset: d.source.offset, reason },
            "dead-lettering a refused registry record",
          );
          refused.push(letter(batch, d.source, reason, "store"));
        } else applied.push({ record: d.record, outcome });
      }
      // Throws when the dead-letter topic is unavailable: the batch rolls back and is retried.
      if (refused.length > 0) await deps.deadLetters.send(refused);
      return { kind: "committed", applied, refused: refused.length };
    });
  }

  /** Runs `fn` until it succeeds, holding the batch (see holdAndRetry). */
  function retrying<T>(
    operation: string,
    batch: SourceBatch,
    control: BatchControl,
    fn: () => Promise<T>,
  ): Promise<T | typeof ABANDONED> {
    return holdAndRetry(deps, { operation, batch, control, fn, logPrefix: "registry " });
  }
}

function letter(
  batch: SourceBatch,
  record: SourceRecord,
  reason: string,
  stage: DeadLetter["stage"],
): DeadLetter {
  return {
    key: record.key,
    value: record.value,
    headers: record.headers,
    reason,
    stage,
    topic: batch.topic,
    partition: batch.partition,
    offset: record.offset,
  };
}
