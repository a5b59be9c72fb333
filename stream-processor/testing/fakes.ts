/** Small fakes for in-process tests: a manual clock, a recording dead-letter sink, window deltas. */

import type { WindowDelta } from "#core/windows";
import { MINUTE_MS } from "#core/windows";
import type { BatchObserver } from "../batch/handle-batch";
import type { Clock } from "../clock/clock";
import type { DeadLetter, DeadLetterSink } from "../kafka/dead-letter-sink";

/** Time moves only when told or when something sleeps (sleeping advances it instantly). */
export class ManualClock implements Clock {
  sleeps: number[] = [];
  constructor(public now: number) {}
  nowMs(): number {
    return this.now;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.now += ms;
  }
}

export class RecordingDeadLetterSink implements DeadLetterSink {
  letters: DeadLetter[] = [];
  constructor(public failNext = 0) {}
  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error("KafkaJSConnectionError: broker unavailable");
    }
    this.letters.push(...letters);
  }
}

export class RecordingObserver implements BatchObserver {
  committed: Parameters<BatchObserver["batchCommitted"]>[0][] = [];
  retries: string[] = [];
  fencedCount = 0;
  batchCommitted(info: Parameters<BatchObserver["batchCommitted"]>[0]): void {
    this.committed.push(info);
  }
  retrying(info: { operation: string }): void {
    this.retries.push(info.operation);
  }
  fenced(): void {
    this.fencedCount += 1;
  }
}

/** A window delta of one web event (a minute window of tenant `acme`), with `fields` changed. */
export function windowDelta(fields: Partial<WindowDelta>): WindowDelta {
  return {
    tenant: "acme",
    widthMs: MINUTE_MS,
    windowStartMs: 0,
    source: "web",
    eventName: "Purchase",
    campaign: "",
    count: 1,
    late: 0,
    matchQualitySum: 0,
    matchQualityCount: 0,
    predictions: 0,
    conversions: 0,
    values: [],
    ...fields,
  };
}
