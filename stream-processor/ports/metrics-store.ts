/** The MetricsStore port: windowed metrics, dedup memory and consumer offsets, written atomically. */
import type { WindowDelta } from "#core/windows";
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

export interface OffsetAdvance {
  groupId: string;
  topic: string;
  partition: number;
  /** What the store must hold now (null: nothing stored yet); anything else means fenced. */
  expectedNextOffset: string | null;
  nextOffset: string;
}

/** An hour of one tenant's windows, by its start (epoch ms, a whole hour). */
export interface TenantHour {
  tenant: string;
  hourStartMs: number;
}

export type OffsetAdvanceResult = { ok: true } | { ok: false; storedNextOffset: string | null };

/** One unit of work: everything done through it commits together or not at all. */
export interface MetricsTransaction {
  /**
   * The transaction's own database connection, for batch stages that write in the same
   * transaction; undefined for stores that have none.
   */
  readonly connection: unknown;
  /**
   * Compare-and-set of the stored offset; call it first, so a fenced batch stops before doing
   * work (and so two consumers of one partition serialise on the offset row).
   */
  advanceOffset(advance: OffsetAdvance): Promise<OffsetAdvanceResult>;
  /**
   * `advanceOffset` for several partitions (distinct group/topic/partition) in one round trip;
   * one result per advance, in order. The ones that were not fenced have moved, so the caller
   * rolls the transaction back if any was.
   */
  advanceOffsets(advances: readonly OffsetAdvance[]): Promise<OffsetAdvanceResult[]>;
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
  /** Raises the stored newest event time per tenant (never lowers it). */
  advanceWatermarks(maxEventTimeMs: ReadonlyMap<string, number>): Promise<void>;
  /**
   * Marks the hours whose minute windows this transaction changed (distinct pairs), so that
   * `rollUpHours` recomputes them and hourly reads add their minutes meanwhile.
   */
  markHoursPending(hours: readonly TenantHour[]): Promise<void>;
}

export interface MetricsStore {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  inTransaction<T>(fn: (tx: MetricsTransaction) => Promise<T>): Promise<T>;
  /** Stored next offsets of `partitions` (absent: none stored). */
  loadNextOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<Map<number, string>>;
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
