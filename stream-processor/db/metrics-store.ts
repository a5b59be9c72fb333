/** The MetricsStore port: windowed metrics and dedup memory, written in a batch's transaction. */
import type { WindowDelta } from "#core/windows";
import type { BatchTransaction } from "../batch/batch-transaction";
import type { DimensionCaps, DimensionValue } from "../pipeline/dimension-admission";

/** The dedup identity of a counted record (events: Meta's (tenant, event_name, event_id)). */
export interface DedupKey {
  tenant: string;
  eventName: string;
  eventId: string;
  /**
   * The identity as stored: `dedupDigest(tenant, eventName, eventId)` (32 hex digits), or for an
   * event sent with a browser key `browserDedupDigest(…)`.
   */
  digest: string;
  /**
   * Browser events only: the server digest of the same (tenant, event_name, event_id). When it
   * is remembered (the server copy was counted), the browser copy is a duplicate; a browser
   * digest never makes a server event one.
   */
  serverDigest?: string;
}

/** Ingest outcome counts of one tenant, source and minute of receipt. */
export interface OutcomeDelta {
  tenant: string;
  source: string;
  minuteMs: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  copies: number;
}

/** An hour of one tenant's windows, by its start (epoch ms, a whole hour). */
export interface TenantHour {
  tenant: string;
  hourStartMs: number;
}

/** The metrics' repository, bound to one batch transaction (MetricsStore.openMetrics). */
export interface MetricsTransaction {
  /**
   * Remembers `keys` (distinct digests) and returns the indexes of those already
   * remembered before, or whose `serverDigest` is remembered, i.e. the duplicates that must not
   * be counted again.
   */
  markSeen(keys: readonly DedupKey[]): Promise<Set<number>>;
  /**
   * Admits each value (distinct) to its tenant's dimension while the tenant holds fewer than the
   * cap, in the order given, and returns those admitted now or before; the others are past the cap.
   * Concurrent transactions admitting for one tenant take turns, so a cap is never exceeded.
   */
  admitDimensionValues(
    values: readonly DimensionValue[],
    caps: DimensionCaps,
  ): Promise<DimensionValue[]>;
  /** Adds the deltas to the stored windows (creating rows as needed). */
  applyWindowDeltas(deltas: readonly WindowDelta[]): Promise<void>;
  /** Adds ingest outcome counts to their (tenant, minute, source) rows, creating rows as needed. */
  applyOutcomeDeltas(deltas: readonly OutcomeDelta[]): Promise<void>;
  /**
   * Raises the stored newest event time per tenant (never lowers it); where it rises, records
   * `advancedAtMs` (the batch's processing time, default now) as when it last moved.
   */
  advanceWatermarks(
    maxEventTimeMs: ReadonlyMap<string, number>,
    advancedAtMs?: number,
  ): Promise<void>;
  /**
   * Marks the hours whose minute windows this transaction changed (distinct pairs), so that
   * `rollUpHours` recomputes them and hourly reads add their minutes meanwhile.
   */
  markHoursPending(hours: readonly TenantHour[]): Promise<void>;
}

export interface MetricsStore {
  /** The metrics of `tx`: what is written through it commits or rolls back with the batch. */
  openMetrics(tx: BatchTransaction): MetricsTransaction;
  /** Newest event time per tenant, epoch ms. */
  loadMaxEventTimes(): Promise<Map<string, number>>;
  /**
   * Recomputes the hourly windows of every marked hour from its minute windows (an hour row is
   * the sum of its minutes, every column) and clears the marks; returns how many hours.
   */
  rollUpHours(): Promise<number>;
  /** Forgets dedup entries first seen before `beforeMs`; returns how many were deleted. */
  purgeSeen(beforeMs: number): Promise<number>;
  /** Throws unless the store answers (for /ready). */
  ping(): Promise<void>;
}
