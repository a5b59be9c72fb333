/** Decodes a batch and drops in-batch repeats: what is left is counted once the store agrees it is new. */
import { setImmediate } from "node:timers/promises";
import type { IngestOutcome } from "#core/events";
import type { WindowObservation } from "#core/windows";
import type { BatchStage } from "../batch/batch-stage";
import type { PreparedBatch } from "../batch/handle-batch";
import type { DedupKey } from "../db/metrics-store";
import { type DeadLetter, letterFor } from "../kafka/dead-letter-sink";
import type { SourceBatch } from "../kafka/event-source";
import type { DecodedRecord, RecordKind } from "./decode-record";

/**
 * Records decoded between two turns of the event loop. A partition batch holds up to thousands
 * of records (~10 µs each); decoding it in one go would hold up the transactions of earlier
 * batches, whose statements wait on this same thread for their answers.
 */
const RECORDS_PER_TURN = 256;

export interface ObservedRecord {
  offset: string;
  observation: WindowObservation;
  dedup: DedupKey;
  /** Per batch stage, in order, what its `select` kept of the record (absent: none kept anything). */
  stageInputs?: readonly unknown[];
  outcome?: undefined;
}

/** An ingest outcome record: summed into the outcome windows, not into the metric windows. */
export interface OutcomeRecord {
  offset: string;
  outcome: IngestOutcome;
  dedup: DedupKey;
  observation?: undefined;
}

export type AcceptedRecord = ObservedRecord | OutcomeRecord;

/** Decoded records, first occurrence of each dedup key only, in offset order. */
export type PreparedMetricsBatch = PreparedBatch<AcceptedRecord>;

export async function prepareBatch(
  batch: SourceBatch,
  kind: RecordKind,
  decode: (kind: RecordKind, value: Buffer | null) => DecodedRecord,
  stages: readonly BatchStage[] = [],
): Promise<PreparedMetricsBatch> {
  const selecting = stages.some((s) => s.select !== undefined);
  const accepted: AcceptedRecord[] = [];
  const deadLetters: DeadLetter[] = [];
  const seen = new Set<string>();
  let inBatchDuplicates = 0;
  let skipped = 0;
  for (let i = 0; i < batch.records.length; i++) {
    if (i > 0 && i % RECORDS_PER_TURN === 0) await setImmediate();
    const record = batch.records[i]!;
    const decoded = decode(kind, record.value);
    if (decoded.ok === "skipped") {
      skipped += 1;
      continue;
    }
    if (decoded.ok === "outcome") {
      // One per ingest request; a redelivered one has the same request id (the store's dedup).
      if (seen.has(decoded.dedup.digest)) inBatchDuplicates += 1;
      else {
        seen.add(decoded.dedup.digest);
        accepted.push({ offset: record.offset, outcome: decoded.outcome, dedup: decoded.dedup });
      }
      continue;
    }
    if (!decoded.ok) {
      deadLetters.push(letterFor(batch, record, decoded.reason, "decode"));
      continue;
    }
    const key = decoded.dedup.digest;
    if (seen.has(key)) {
      inBatchDuplicates += 1;
      continue;
    }
    seen.add(key);
    const entry: ObservedRecord = {
      offset: record.offset,
      observation: decoded.observation,
      dedup: decoded.dedup,
    };
    if (selecting) {
      // Most records give no stage anything to keep: they carry no array at all.
      const inputs = stages.map((s) => s.select?.(decoded.message));
      if (inputs.some((v) => v !== undefined)) entry.stageInputs = inputs;
    }
    accepted.push(entry);
  }
  return { batch, accepted, inBatchDuplicates, skipped, deadLetters };
}
