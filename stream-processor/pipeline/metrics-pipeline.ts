/** Commits decoded records: dedup, window deltas, watermarks and offsets in one store transaction. */
import { isDriftlineError } from "#core/errors";
import type { IngestOutcome } from "#core/events";
import {
  aggregateWindows,
  HOUR_MS,
  MINUTE_MS,
  type WindowDelta,
  type WindowingSpec,
  windowStartMs,
} from "#core/windows";
import type { BatchStage } from "../batch/batch-stage";
import type { BatchTransaction, BatchTransactions } from "../batch/batch-transaction";
import type { BatchCommitter, OffsetRange } from "../batch/handle-batch";
import type { Clock } from "../clock/clock";
import type { DedupKey, MetricsStore, OutcomeDelta, TenantHour } from "../db/metrics-store";
import {
  type AdmissionAnswer,
  DimensionAdmission,
  type DimensionCaps,
  type DimensionValue,
  type Overflow,
} from "./dimension-admission";
import type { AcceptedRecord, ObservedRecord } from "./prepare-batch";

export type MetricsCommitResult =
  | { kind: "committed"; counted: number; duplicates: number; windowRows: number }
  | { kind: "fenced"; storedNextOffset: string | null };

/** Thrown inside the transaction to roll it back when an offset compare-and-set fails. */
class Fenced extends Error {
  constructor(readonly storedNextOffset: string | null) {
    super("offset fenced");
  }
}

export interface MetricsPipelineDeps {
  /** Where batch transactions (and the consumed offsets) come from. */
  transactions: BatchTransactions;
  store: MetricsStore;
  clock: Clock;
  windowing: WindowingSpec;
  groupId: string;
  /** Run in every batch transaction after the metrics, in order (e.g. model monitoring). */
  stages?: readonly BatchStage[];
  /** Most distinct event names and campaigns per tenant; unset: no cap. */
  dimensionCaps?: DimensionCaps;
  /** Told after each commit that counted events under `(other)`, and of tenants newly past a cap. */
  dimensionObserver?: {
    overflowed(overflows: readonly Overflow[]): void;
    capReached(value: DimensionValue, cap: number): void;
  };
}

interface Pending {
  records: readonly AcceptedRecord[];
  range: OffsetRange;
  resolve: (result: MetricsCommitResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Holds the per-tenant newest event times (the watermark state) between batches: loaded from the
 * store, raised only after a commit, so a rolled-back batch leaves no trace in memory either.
 *
 * Group commit: batches of different partitions that arrive while a transaction is running are
 * committed together in the next one (one dedup insert, one upsert, one commit for all), so
 * concurrent partitions neither queue on each other's row locks nor pay a transaction each.
 * A group that is refused or fenced is retried batch by batch, so each batch gets the answer
 * its own records deserve.
 */
export class MetricsPipeline implements BatchCommitter<AcceptedRecord> {
  private readonly maxEventTimeMs = new Map<string, number>();
  private readonly admission: DimensionAdmission | undefined;
  private pending: Pending[] = [];
  private flushing = false;

  /** The batch stages, in order: the handler runs their `select` as it decodes. */
  readonly stages: readonly BatchStage[];

  constructor(private readonly deps: MetricsPipelineDeps) {
    this.stages = deps.stages ?? [];
    this.admission =
      deps.dimensionCaps === undefined ? undefined : new DimensionAdmission(deps.dimensionCaps);
  }

  /** (Re)loads the watermark state, e.g. at start and after a rebalance. */
  async loadState(): Promise<void> {
    const stored = await this.deps.store.loadMaxEventTimes();
    for (const [tenant, ms] of stored) this.raise(tenant, ms);
  }

  /** Newest trusted event time of a tenant known to this process. */
  maxEventTime(tenant: string): number | undefined {
    return this.maxEventTimeMs.get(tenant);
  }

  /**
   * Commits `records` and moves the stored offset of `range` from its expected to its next
   * value, atomically (alone or with other partitions' batches). Resolves `fenced` when the
   * stored offset was not the expected one (nothing is written then); rejects with the store's
   * error otherwise (a ValidationError when the store refuses this batch's data).
   */
  commit(records: readonly AcceptedRecord[], range: OffsetRange): Promise<MetricsCommitResult> {
    return new Promise<MetricsCommitResult>((resolve, reject) => {
      this.pending.push({ records, range, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        await this.commitGroup(group);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    try {
      const results = await this.transact(group);
      group.forEach((p, i) => {
        p.resolve(results[i]!);
      });
    } catch (error) {
      const attributable =
        error instanceof Fenced || (isDriftlineError(error) && error.code === "VALIDATION");
      if (group.length === 1 || !attributable) {
        for (const p of group) {
          if (error instanceof Fenced)
            p.resolve({ kind: "fenced", storedNextOffset: error.storedNextOffset });
          else p.reject(error);
        }
        return;
      }
      // Someone in the group was fenced or refused: find out who, one batch at a time.
      for (const p of group) await this.commitGroup([p]);
    }
  }

  /**
   * One transaction for the group: claim every offset range (compare-and-set; any fenced → roll
   * back), remember the dedup keys, count only the records not seen before (the first of equal
   * keys across the group), raise the watermarks.
   */
  private async transact(group: readonly Pending[]): Promise<MetricsCommitResult[]> {
    const { transactions, store, clock, windowing, groupId } = this.deps;
    const result = await transactions.inTransaction(async (tx: BatchTransaction) => {
      const advanced = await tx.advanceOffsets(group.map((p) => ({ groupId, ...p.range })));
      for (const a of advanced) if (!a.ok) throw new Fenced(a.storedNextOffset);
      const metrics = store.openMetrics(tx);
      const all = group.length === 1 ? group[0]!.records : group.flatMap((p) => p.records);
      const counts = group.map(() => ({ counted: 0, duplicates: 0 }));
      if (all.length === 0) {
        return {
          counts,
          moved: new Map<string, number>(),
          windowRows: 0,
          admission: undefined as AdmissionAnswer | undefined,
          overflows: [] as Overflow[],
        };
      }
      // Keys are distinct within a batch (prepareBatch); across batches of one group they may
      // repeat (a website and a CAPI copy of one event): the store must see each key once.
      const owner: number[] = [];
      const keys: DedupKey[] = [];
      const fresh: AcceptedRecord[] = [];
      const firstIndex = new Map<string, number>();
      // A browser copy whose server copy is in the same transaction is the duplicate, whichever
      // came first: the store's lookup of server digests cannot see rows inserted alongside.
      const serverDigests = serverDigestsIfBrowserCopies(all);
      group.forEach((p, g) => {
        for (const r of p.records) {
          if (
            serverDigests !== undefined &&
            r.dedup.serverDigest !== undefined &&
            serverDigests.has(r.dedup.serverDigest)
          ) {
            counts[g]!.duplicates += 1;
            continue;
          }
          if (group.length > 1) {
            const k = r.dedup.digest;
            if (firstIndex.has(k)) {
              counts[g]!.duplicates += 1;
              continue;
            }
            firstIndex.set(k, keys.length);
          }
          owner.push(g);
          keys.push(r.dedup);
          fresh.push(r);
        }
      });
      const seenBefore = await metrics.markSeen(keys);
      const counted: AcceptedRecord[] = [];
      fresh.forEach((r, i) => {
        const c = counts[owner[i]!]!;
        if (seenBefore.has(i)) c.duplicates += 1;
        else {
          c.counted += 1;
          counted.push(r);
        }
      });
      const nowMs = clock.nowMs();
      const observed: ObservedRecord[] = [];
      const outcomes: IngestOutcome[] = [];
      for (const r of counted) {
        if (r.outcome === undefined) observed.push(r);
        else outcomes.push(r.outcome);
      }
      if (outcomes.length > 0) await metrics.applyOutcomeDeltas(outcomeDeltas(outcomes));
      let observations = observed.map((r) => r.observation);
      let admission: AdmissionAnswer | undefined;
      let overflows: Overflow[] = [];
      if (this.admission !== undefined) {
        // Values this process has not seen are admitted (or refused) in this transaction, so
        // the admitted set and the windows it shaped commit together.
        const { unknown, allAdmitted } = this.admission.unknownValues(observations);
        if (unknown.length > 0) {
          const admitted = await metrics.admitDimensionValues(unknown, this.admission.caps);
          admission = { asked: unknown, admitted };
        }
        if (!allAdmitted) {
          ({ observations, overflows } = this.admission.cap(observations, admission));
        }
      }
      const aggregate = aggregateWindows(observations, windowing, {
        maxEventTimeMs: this.maxEventTimeMs,
        nowMs,
      });
      if (aggregate.deltas.length > 0) {
        await metrics.applyWindowDeltas(aggregate.deltas);
        const hours = hoursOfMinutes(aggregate.deltas);
        if (hours.length > 0) await metrics.markHoursPending(hours);
      }
      if (aggregate.maxEventTimeMs.size > 0)
        await metrics.advanceWatermarks(aggregate.maxEventTimeMs, nowMs);
      if (observed.length > 0) {
        for (const [i, stage] of this.stages.entries()) {
          const records = observed.map((r) => ({
            observation: r.observation,
            input: r.stageInputs?.[i],
          }));
          await stage.apply(tx, records, nowMs);
        }
      }
      return {
        counts,
        moved: aggregate.maxEventTimeMs,
        windowRows: aggregate.deltas.length,
        admission,
        overflows,
      };
    });
    for (const [tenant, ms] of result.moved) this.raise(tenant, ms);
    if (result.admission !== undefined && this.admission !== undefined) {
      for (const full of this.admission.remember(result.admission)) {
        const caps = this.admission.caps;
        this.deps.dimensionObserver?.capReached(
          full,
          full.dimension === "event_name" ? caps.eventNames : caps.campaigns,
        );
      }
    }
    if (result.overflows.length > 0) this.deps.dimensionObserver?.overflowed(result.overflows);
    return result.counts.map((c) => ({
      kind: "committed" as const,
      ...c,
      windowRows: result.windowRows,
    }));
  }

  private raise(tenant: string, ms: number): void {
    const current = this.maxEventTimeMs.get(tenant);
    if (current === undefined || ms > current) this.maxEventTimeMs.set(tenant, ms);
  }
}

/** Server digests of `records` when some record is a browser copy (else undefined: nothing to check). */
function serverDigestsIfBrowserCopies(records: readonly AcceptedRecord[]): Set<string> | undefined {
  let browser = false;
  for (const r of records) {
    if (r.dedup.serverDigest !== undefined) {
      browser = true;
      break;
    }
  }
  if (!browser) return undefined;
  const digests = new Set<string>();
  for (const r of records) if (r.dedup.serverDigest === undefined) digests.add(r.dedup.digest);
  return digests;
}

/** The distinct (tenant, hour) pairs of the minute deltas: the hours the rollup must recompute. */
export function hoursOfMinutes(deltas: readonly WindowDelta[]): TenantHour[] {
  const seen = new Set<string>();
  const hours: TenantHour[] = [];
  for (const d of deltas) {
    if (d.widthMs !== MINUTE_MS) continue;
    const hourStartMs = windowStartMs(d.windowStartMs, HOUR_MS);
    const key = `${d.tenant}\u0000${hourStartMs}`;
    if (seen.has(key)) continue;
    seen.add(key);
    hours.push({ tenant: d.tenant, hourStartMs });
  }
  return hours;
}

/** Outcome records summed per (tenant, source, minute of receipt). */
export function outcomeDeltas(outcomes: readonly IngestOutcome[]): OutcomeDelta[] {
  const byKey = new Map<string, OutcomeDelta>();
  for (const o of outcomes) {
    const minuteMs = windowStartMs(o.receivedAtMs, MINUTE_MS);
    const key = `${o.tenant}\u0000${o.source}\u0000${minuteMs}`;
    const d = byKey.get(key);
    if (d === undefined) {
      byKey.set(key, {
        tenant: o.tenant,
        source: o.source,
        minuteMs,
        accepted: o.accepted,
        duplicates: o.duplicates,
        rejected: o.rejected,
        copies: o.copies,
      });
    } else {
      d.accepted += o.accepted;
      d.duplicates += o.duplicates;
      d.rejected += o.rejected;
      d.copies += o.copies;
    }
  }
  return [...byKey.values()];
}
