/** The EventSource port: delivers batches of raw records from one partition of a log, in order. */

export interface SourceRecord {
  /** Position in the partition (Kafka offset), a decimal string (int64). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker/producer timestamp, epoch ms. */
  timestampMs: number;
}

export interface SourceBatch {
  topic: string;
  partition: number;
  /** Records to process, in partition order; may be empty when all were already processed. */
  records: SourceRecord[];
  /**
   * The next offset the store says this partition resumes from before this batch (null when it
   * has never stored one). The commit of the batch must find exactly this value, or it is fenced.
   */
  expectedNextOffset: string | null;
  /** The next offset once this batch is committed (last offset of the fetched range + 1). */
  nextOffset: string;
  /** Partition end (offset of the next record to be written), for lag. */
  highWatermark: string;
}

/** What a handler reports back, so the source knows where to continue. */
export type BatchOutcome =
  /** Results and `nextOffset` are durable. */
  | { kind: "committed" }
  /** Another consumer moved the stored offset: re-read it and continue from there. */
  | { kind: "fenced"; storedNextOffset: string | null }
  /** Not processed (shutting down): it will be delivered again. */
  | { kind: "abandoned" };

export interface BatchControl {
  /** Keeps group membership alive during long retries; throws when the group rebalanced. */
  heartbeat(): Promise<void>;
  /** False once the source is stopping: long retries should give the batch up. */
  isRunning(): boolean;
}

/** Commits a prepared batch (results + offset); the source calls it at most once. */
export type CommitBatch = () => Promise<BatchOutcome>;

/**
 * Prepares a batch (decodes it, dead-letters poison) and returns how to commit it. The two
 * steps are separate so a source can prepare the next batch of a partition while the previous
 * one is being committed; it must commit a partition's batches in order, each only after the
 * previous one committed.
 */
export type BatchHandler = (batch: SourceBatch, control: BatchControl) => Promise<CommitBatch>;

export interface EventSource {
  /** Starts delivering batches to `handler`; resolves once consumption has started. */
  start(handler: BatchHandler): Promise<void>;
  /** Stops fetching and waits for the batch in hand to finish. Idempotent. */
  stop(): Promise<void>;
  /** True while it is connected and consuming (for /ready). */
  isHealthy(): boolean;
}
