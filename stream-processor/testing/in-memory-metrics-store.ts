/** A MetricsStore fake with real transaction semantics (all or nothing), for pipeline tests. */
import { ValidationError } from "../../src/core/errors";
import type { WindowDelta } from "../../src/core/windows/aggregate-windows";
import type {
  DedupKey,
  MetricsStore,
  MetricsTransaction,
  OffsetAdvance,
  OffsetAdvanceResult,
} from "../ports/metrics-store";

export interface StoredWindow {
  count: number;
  late: number;
  predictions: number;
  conversions: number;
  matchQualitySum: number;
  matchQualityCount: number;
  values: Map<string, { micros: bigint; count: number }>;
}

interface State {
  offsets: Map<string, string>;
  seen: Set<string>;
  windows: Map<string, StoredWindow>;
  maxEventTimeMs: Map<string, number>;
}

export interface InMemoryStoreFaults {
  /** Fail this many upcoming transactions with a retryable (non-validation) error. */
  unavailableTransactions?: number;
  /** Refuse (as Postgres would a bad value) any delta whose event name is this. */
  refuseEventName?: string;
}

export class InMemoryMetricsStore implements MetricsStore {
  state: State = {
    offsets: new Map(),
    seen: new Set(),
    windows: new Map(),
    maxEventTimeMs: new Map(),
  };
  transactions = 0;

  constructor(public faults: InMemoryStoreFaults = {}) {}

  static windowKey(
    d: Pick<
      WindowDelta,
      "tenant" | "widthMs" | "windowStartMs" | "source" | "eventName" | "campaign"
    >,
  ): string {
    return [d.tenant, d.widthMs, d.windowStartMs, d.source, d.eventName, d.campaign].join("|");
  }

  async inTransaction<T>(fn: (tx: MetricsTransaction) => Promise<T>): Promise<T> {
    this.transactions += 1;
    if ((this.faults.unavailableTransactions ?? 0) > 0) {
      this.faults.unavailableTransactions! -= 1;
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
        code: "ECONNREFUSED",
      });
    }
    const draft: State = {
      offsets: new Map(this.state.offsets),
      seen: new Set(this.state.seen),
      windows: new Map(
        [...this.state.windows].map(([k, w]) => [k, { ...w, values: new Map(w.values) }]),
      ),
      maxEventTimeMs: new Map(this.state.maxEventTimeMs),
    };
    const refuse = this.faults.refuseEventName;
    const tx: MetricsTransaction = {
      connection: { inMemoryTransaction: this.transactions },
      async advanceOffset(a: OffsetAdvance): Promise<OffsetAdvanceResult> {
        const key = `${a.groupId}|${a.topic}|${a.partition}`;
        // As in Postgres: a missing row is inserted; a stored one must hold the expected offset.
        const stored = draft.offsets.get(key);
        if (stored !== undefined && stored !== a.expectedNextOffset) {
          return { ok: false, storedNextOffset: stored };
        }
        draft.offsets.set(key, a.nextOffset);
        return { ok: true };
      },
      async advanceOffsets(advances: readonly OffsetAdvance[]): Promise<OffsetAdvanceResult[]> {
        const results: OffsetAdvanceResult[] = [];
        for (const a of advances) results.push(await this.advanceOffset(a));
        return results;
      },
      async markSeen(keys: readonly DedupKey[]): Promise<Set<number>> {
        const dup = new Set<number>();
        keys.forEach((k, i) => {
          if (draft.seen.has(k.digest)) dup.add(i);
          else draft.seen.add(k.digest);
        });
        return dup;
      },
      async applyWindowDeltas(deltas: readonly WindowDelta[]): Promise<void> {
        for (const d of deltas) {
          if (refuse !== undefined && d.eventName === refuse) {
            throw new ValidationError(
              `Postgres refused the data (22001): value too long for ${refuse}`,
            );
          }
          const key = InMemoryMetricsStore.windowKey(d);
          const w = draft.windows.get(key) ?? {
            count: 0,
            late: 0,
            predictions: 0,
            conversions: 0,
            matchQualitySum: 0,
            matchQualityCount: 0,
            values: new Map(),
          };
          w.count += d.count;
          w.late += d.late;
          w.predictions += d.predictions;
          w.conversions += d.conversions;
          w.matchQualitySum += d.matchQualitySum;
          w.matchQualityCount += d.matchQualityCount;
          for (const v of d.values) {
            const prev = w.values.get(v.currency) ?? { micros: 0n, count: 0 };
            w.values.set(v.currency, {
              micros: prev.micros + v.valueMicros,
              count: prev.count + v.valueCount,
            });
          }
          draft.windows.set(key, w);
        }
      },
      async advanceWatermarks(max: ReadonlyMap<string, number>): Promise<void> {
        for (const [tenant, ms] of max) {
          draft.maxEventTimeMs.set(tenant, Math.max(ms, draft.maxEventTimeMs.get(tenant) ?? ms));
        }
      },
    };
    const result = await fn(tx);
    this.state = draft;
    return result;
  }

  async loadNextOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const p of partitions) {
      const v = this.state.offsets.get(`${groupId}|${topic}|${p}`);
      if (v !== undefined) out.set(p, v);
    }
    return out;
  }

  async loadMaxEventTimes(): Promise<Map<string, number>> {
    return new Map(this.state.maxEventTimeMs);
  }

  async purgeSeen(): Promise<number> {
    return 0;
  }

  async ping(): Promise<void> {}
}
