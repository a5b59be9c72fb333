/** The sliding windows the monitoring stage keeps between batches: bounded in bytes, checked against each version's locked state. */
import { LRUCache } from "lru-cache";
import { type ModelReference, PredictionWindow } from "#core/monitoring";
import type { ModelKey, MonitoringTransaction } from "./monitoring-store";

/** 256 MiB: 100 versions of 30 features at the default window of 2000 predictions take ~50 MiB. */
export const DEFAULT_WINDOW_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * What a window of `capacity` predictions over `columns` columns holds, bytes: one 8-byte slot
 * per value and one per scoring time, plus a fixed overhead. Categorical values are shared
 * strings (the column's few categories), so a slot is what they cost in the window.
 */
export function windowSizeBytes(capacity: number, columns: number): number {
  return 256 + capacity * (columns + 1) * 8;
}

/** A model version's identity as one string (map keys). */
export const modelKeyId = (k: ModelKey) => `${k.tenant}\u0000${k.model}\u0000${k.version}`;

interface CachedWindow {
  key: ModelKey;
  /** The state row's `seq` this window matches; -1 while a transaction is using it. */
  seq: number;
  /** The reference's window columns (JSON), so a changed reference rebuilds the window. */
  columns: string;
  window: PredictionWindow;
}

export interface SlidingWindowCacheOptions {
  /** Memory the windows may take, bytes (estimated by `windowSizeBytes`). */
  maxBytes: number;
  /** Predictions a sliding window holds (MONITORING_SLIDING_SIZE). */
  windowSize: number;
  /** A version's window left memory (evicted or unmonitored). */
  onDropped?: (key: ModelKey) => void;
}

/**
 * Holds the sliding windows between batches (the durable truth is in Postgres: predictions and
 * monitoring_state). A cached window is used only when the locked state row's `seq` says no
 * other transaction changed the version since; otherwise it is re-read from `predictions`.
 * The cache is updated during the transaction: should it roll back, the stored `seq` stays
 * behind the cached one and the next batch re-reads, so a rolled-back batch leaves no trace.
 */
export class SlidingWindowCache {
  /**
   * Bounded in bytes: a processor serving many tenants and versions (retired ones included) keeps
   * only the recently active windows; a dropped one is rebuilt from `predictions` (one read of
   * the last `windowSize` rows), which is what a restart does for every version anyway.
   */
  private readonly windows: LRUCache<string, CachedWindow>;

  constructor(private readonly options: SlidingWindowCacheOptions) {
    const { maxBytes, onDropped } = options;
    this.windows = new LRUCache<string, CachedWindow>({
      maxSize: maxBytes,
      // A window larger than the whole budget is still used for its batch, just not kept.
      maxEntrySize: maxBytes,
      sizeCalculation: (entry) =>
        Math.min(maxBytes, windowSizeBytes(entry.window.capacity, entry.window.columns.length)),
      dispose: (entry, _id, reason) => {
        // "set" replaces a stale window of the same version: its series stay.
        if (reason !== "set") onDropped?.(entry.key);
      },
    });
  }

  /** Versions whose sliding window is held in memory. */
  get size(): number {
    return this.windows.size;
  }

  /** The version's sliding window: the cached one when current, else re-read from Postgres. */
  async windowFor(
    tx: MonitoringTransaction,
    key: ModelKey,
    seq: number,
    reference: ModelReference | undefined,
  ): Promise<PredictionWindow | undefined> {
    const id = modelKeyId(key);
    if (reference === undefined || reference.columns.length === 0) {
      this.windows.delete(id);
      return undefined;
    }
    const columns = JSON.stringify(reference.windowColumns);
    const cached = this.windows.get(id);
    if (cached !== undefined && cached.seq === seq && cached.columns === columns) {
      cached.seq = -1; // dirty until this transaction saves the state (see the class comment)
      return cached.window;
    }
    const size = this.options.windowSize;
    const window = new PredictionWindow(reference.windowColumns, size);
    for (const row of await tx.recentPredictions(key, size)) window.push(row);
    this.windows.set(id, { key, seq: -1, columns, window });
    return window;
  }

  /** The version's state was saved as `seq`: its window (when still this one) is current again. */
  saved(key: ModelKey, window: PredictionWindow | undefined, seq: number): void {
    // peek: saving the state is no use of the window, so it does not refresh its recency.
    const cached = this.windows.peek(modelKeyId(key));
    if (cached !== undefined && cached.window === window) cached.seq = seq;
  }
}
