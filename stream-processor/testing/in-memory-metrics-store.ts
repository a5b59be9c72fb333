/** BatchTransactions and MetricsStore fakes in one, with real transaction semantics (all or nothing), for pipeline tests. */

import { ValidationError } from "#core/errors";
import type { WindowDelta } from "#core/windows";
import { HOUR_MS, MINUTE_MS, windowStartMs } from "#core/windows";
import type {
  BatchTransaction,
  BatchTransactions,
  OffsetAdvance,
  OffsetAdvanceResult,
} from "../batch/batch-transaction";
import type {
  DedupKey,
  MetricsStore,
  MetricsTransaction,
  OutcomeDelta,
  TenantHour,
} from "../db/metrics-store";
import type { Queryable } from "../db/timed-query";
import type { DimensionCaps, DimensionValue } from "../pipeline/dimension-admission";

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
  /** `tenant|hourStartMs` of hours marked for the rollup. */
  pendingHours: Set<string>;
  /** Admitted values per `tenant|dimension`. */
  dimensions: Map<string, Set<string>>;
  /** Ingest outcome counts per `tenant|source|minuteMs`. */
  outcomes: Map<string, OutcomeDelta>;
}

export interface InMemoryStoreFaults {
  /** Fail this many upcoming transactions with a retryable (non-validation) error. */
  unavailableTransactions?: number;
  /** Refuse (as Postgres would a bad value) any delta whose event name is this. */
  refuseEventName?: string;
}

/**
 * The connection of an in-memory transaction: it names the transaction (so tests can tell which
 * one a stage ran in) and has no SQL to run.
 */
class InMemoryConnection implements Queryable {
  constructor(readonly inMemoryTransaction: number) {}
  query(): never {
    throw new Error("the in-memory store runs no SQL; use a Postgres store for SQL stages");
  }
}

export class InMemoryMetricsStore implements BatchTransactions, MetricsStore {
  state: State = {
    offsets: new Map(),
    seen: new Set(),
    windows: new Map(),
    maxEventTimeMs: new Map(),
    pendingHours: new Set(),
    dimensions: new Map(),
    outcomes: new Map(),
  };
  transactions = 0;
  /** The draft state of each open transaction, for `openMetrics`. */
  private readonly drafts = new WeakMap<BatchTransaction, State>();

  constructor(public faults: InMemoryStoreFaults = {}) {}

  static windowKey(
    d: Pick<
      WindowDelta,
      "tenant" | "widthMs" | "windowStartMs" | "source" | "eventName" | "campaign"
    >,
  ): string {
    return [d.tenant, d.widthMs, d.windowStartMs, d.source, d.eventName, d.campaign].join("|");
  }

  async inTransaction<T>(fn: (tx: BatchTransaction) => Promise<T>): Promise<T> {
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
      pendingHours: new Set(this.state.pendingHours),
      dimensions: new Map([...this.state.dimensions].map(([k, v]) => [k, new Set(v)])),
      outcomes: new Map([...this.state.outcomes].map(([k, o]) => [k, { ...o }])),
    };
    const tx: BatchTransaction = {
      sql: new InMemoryConnection(this.transactions),
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
    };
    this.drafts.set(tx, draft);
    const result = await fn(tx);
    this.state = draft;
    return result;
  }

  openMetrics(tx: BatchTransaction): MetricsTransaction {
    const draft = this.drafts.get(tx);
    if (draft === undefined) throw new Error("not a transaction of this in-memory store");
    const refuse = this.faults.refuseEventName;
    return {
      async markSeen(keys: readonly DedupKey[]): Promise<Set<number>> {
        const dup = new Set<number>();
        keys.forEach((k, i) => {
          const serverSeen = k.serverDigest !== undefined && draft.seen.has(k.serverDigest);
          if (draft.seen.has(k.digest)) dup.add(i);
          else {
            draft.seen.add(k.digest);
            if (serverSeen) dup.add(i);
          }
        });
        return dup;
      },
      async admitDimensionValues(
        values: readonly DimensionValue[],
        caps: DimensionCaps,
      ): Promise<DimensionValue[]> {
        const admitted: DimensionValue[] = [];
        for (const v of values) {
          const k = `${v.tenant}|${v.dimension}`;
          const set = draft.dimensions.get(k) ?? new Set<string>();
          draft.dimensions.set(k, set);
          const cap = v.dimension === "event_name" ? caps.eventNames : caps.campaigns;
          if (set.has(v.value) || set.size < cap) {
            set.add(v.value);
            admitted.push(v);
          }
        }
        return admitted;
      },
      async applyOutcomeDeltas(deltas: readonly OutcomeDelta[]): Promise<void> {
        for (const d of deltas) {
          const key = `${d.tenant}|${d.source}|${d.minuteMs}`;
          const o = draft.outcomes.get(key);
          if (o === undefined) draft.outcomes.set(key, { ...d });
          else {
            o.accepted += d.accepted;
            o.duplicates += d.duplicates;
            o.rejected += d.rejected;
            o.copies += d.copies;
          }
        }
      },
      async applyWindowDeltas(deltas: readonly WindowDelta[]): Promise<void> {
        for (const d of deltas) {
          if (refuse !== undefined && d.eventName === refuse) {
            throw new ValidationError(
              `Postgres refused the data (22001): value too long for ${refuse}`,
            );
          }
          const key = InMemoryMetricsStore.windowKey(d);
          const w = draft.windows.get(key) ?? emptyWindow();
          addInto(w, {
            ...d,
            values: new Map(
              d.values.map((v) => [v.currency, { micros: v.valueMicros, count: v.valueCount }]),
            ),
          });
          draft.windows.set(key, w);
        }
      },
      async markHoursPending(hours: readonly TenantHour[]): Promise<void> {
        for (const h of hours) draft.pendingHours.add(`${h.tenant}|${h.hourStartMs}`);
      },
      async advanceWatermarks(max: ReadonlyMap<string, number>): Promise<void> {
        for (const [tenant, ms] of max) {
          draft.maxEventTimeMs.set(tenant, Math.max(ms, draft.maxEventTimeMs.get(tenant) ?? ms));
        }
      },
    };
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

  /** As the Neon store: every marked hour's row becomes the sum of its minute rows. */
  async rollUpHours(): Promise<number> {
    const hours = this.state.pendingHours;
    const sums = new Map<string, StoredWindow>();
    for (const [key, w] of this.state.windows) {
      const [tenant, width, start, ...rest] = key.split("|");
      if (Number(width) !== MINUTE_MS) continue;
      const hourStartMs = windowStartMs(Number(start), HOUR_MS);
      if (!hours.has(`${tenant}|${hourStartMs}`)) continue;
      const hourKey = [tenant, HOUR_MS, hourStartMs, ...rest].join("|");
      const sum = sums.get(hourKey) ?? emptyWindow();
      addInto(sum, w);
      sums.set(hourKey, sum);
    }
    for (const [key, w] of sums) this.state.windows.set(key, w);
    this.state.pendingHours = new Set();
    return hours.size;
  }

  async purgeSeen(): Promise<number> {
    return 0;
  }

  async ping(): Promise<void> {}
}

function emptyWindow(): StoredWindow {
  return {
    count: 0,
    late: 0,
    predictions: 0,
    conversions: 0,
    matchQualitySum: 0,
    matchQualityCount: 0,
    values: new Map(),
  };
}

function addInto(into: StoredWindow, w: StoredWindow): void {
  into.count += w.count;
  into.late += w.late;
  into.predictions += w.predictions;
  into.conversions += w.conversions;
  into.matchQualitySum += w.matchQualitySum;
  into.matchQualityCount += w.matchQualityCount;
  for (const [currency, v] of w.values) {
    const prev = into.values.get(currency) ?? { micros: 0n, count: 0 };
    into.values.set(currency, { micros: prev.micros + v.micros, count: prev.count + v.count });
  }
}
