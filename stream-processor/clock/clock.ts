/** The Clock port: processing time and waiting, replaceable in tests. */

export interface Clock {
  /** Epoch ms. */
  nowMs(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
