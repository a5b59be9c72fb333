/** The batch handler of the `models` topic: the transactional batch handler with the registry's decoder and stage. */
import type { Logger } from "pino";
import type { BackoffSpec } from "../batch/backoff-ms";
import type { BatchTransactions } from "../batch/batch-transaction";
import { commitEachBatch } from "../batch/commit-each-batch";
import { type BatchObserver, createBatchHandler, type PreparedBatch } from "../batch/handle-batch";
import type { Clock } from "../clock/clock";
import { type DeadLetter, type DeadLetterSink, letterFor } from "../kafka/dead-letter-sink";
import type { BatchHandler, SourceBatch } from "../kafka/event-source";
import { decodeRegistryRecord } from "./decode-registry-record";
import type { OpenModelRegistry } from "./model-registry-store";
import { type RegistryInput, registryStage } from "./registry-stage";

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

/**
 * Exactly-once effect like the metrics: the offset compare-and-set and every registry write of
 * a batch commit together. Records that cannot be decoded are dead-lettered before the commit; a
 * record Postgres refuses is dead-lettered inside the transaction, before the offsets commit, so
 * none is lost. Registry traffic is a few records per upload or promotion, so each batch has a
 * transaction of its own (no group commit).
 */
export function createRegistryBatchHandler(deps: RegistryBatchHandlerDeps): BatchHandler {
  return createBatchHandler<RegistryInput>({
    prepare: async (batch) => decodeRegistryBatch(batch),
    committer: commitEachBatch({
      transactions: deps.transactions,
      groupId: deps.groupId,
      stages: [registryStage(deps.openRegistry, deps.log)],
    }),
    deadLetters: deps.deadLetters,
    clock: deps.clock,
    backoff: deps.backoff,
    log: deps.log,
    observer: deps.observer,
    logPrefix: "registry ",
  });
}

function decodeRegistryBatch(batch: SourceBatch): PreparedBatch<RegistryInput> {
  const accepted: RegistryInput[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const source of batch.records) {
    const result = decodeRegistryRecord(source.value);
    if (result.ok) accepted.push({ offset: source.offset, record: result.record });
    else deadLetters.push(letterFor(batch, source, result.reason, "decode"));
  }
  return { batch, accepted, inBatchDuplicates: 0, skipped: 0, deadLetters };
}
