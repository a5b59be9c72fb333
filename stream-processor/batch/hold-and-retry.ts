/** Retries a batch operation with back-off while heartbeating, holding the batch; never drops it. */
import type { Logger } from "pino";
import type { Clock } from "../clock/clock";
import type { BatchControl, SourceBatch } from "../kafka/event-source";
import { type BackoffSpec, backoffMs } from "./backoff-ms";

/** Returned instead of a result once the source stops (shutdown or rebalance): nothing committed. */
export const ABANDONED = Symbol("abandoned");

/** Heartbeats at least this often while waiting, so the group does not evict the consumer. */
const HEARTBEAT_SLICE_MS = 1_000;

export interface HoldAndRetryDeps {
  backoff: BackoffSpec;
  clock: Clock;
  log: Logger;
  observer: { retrying(event: { topic: string; partition: number; operation: string }): void };
}

export interface HoldAndRetryOptions<T> {
  /** Names the step in logs and metrics, e.g. `commit`. */
  operation: string;
  batch: SourceBatch;
  control: BatchControl;
  fn: () => Promise<T>;
  /** Errors retrying cannot help (the data itself is refused): rethrown for the caller. */
  isFatal?: (error: unknown) => boolean;
  /** Prefix of the log message, e.g. `registry `. */
  logPrefix?: string;
}

/**
 * Runs `fn` until it succeeds. Anything but a fatal error is retried with back-off while
 * heartbeating; once the source stops the batch is given up (ABANDONED) and left for redelivery.
 * A rebalance surfaces as a throwing heartbeat.
 */
export async function holdAndRetry<T>(
  deps: HoldAndRetryDeps,
  options: HoldAndRetryOptions<T>,
): Promise<T | typeof ABANDONED> {
  const { operation, batch, control } = options;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await options.fn();
    } catch (error) {
      if (options.isFatal?.(error)) throw error;
      if (!control.isRunning()) return ABANDONED;
      const delayMs = backoffMs(attempt, deps.backoff);
      deps.observer.retrying({ topic: batch.topic, partition: batch.partition, operation });
      deps.log[attempt === 1 ? "warn" : "error"](
        { topic: batch.topic, partition: batch.partition, operation, attempt, delayMs, err: error },
        `${options.logPrefix ?? ""}${operation} failed; holding the batch and retrying`,
      );
      for (let waited = 0; waited < delayMs; waited += HEARTBEAT_SLICE_MS) {
        if (!control.isRunning()) return ABANDONED;
        await control.heartbeat();
        await deps.clock.sleep(Math.min(HEARTBEAT_SLICE_MS, delayMs - waited));
      }
      if (!control.isRunning()) return ABANDONED;
    }
  }
}
