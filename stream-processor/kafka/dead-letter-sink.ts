/** The DeadLetterSink port: where records that can never be processed go, with why and where from. */

export interface DeadLetter {
  /** The original record, byte for byte. */
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Why it cannot be processed, in words an operator can act on. */
  reason: string;
  /**
   * The stage that refused it: decoding (bad JSON, schema), storing (the database refused it) or
   * delivering (a destination refused it for good; the reason is the destination's).
   */
  stage: "decode" | "store" | "deliver";
  topic: string;
  partition: number;
  offset: string;
}

export interface DeadLetterSink {
  /**
   * Durably stores every letter or throws (a retryable error when the sink is unavailable).
   * At-least-once: a retried batch may send a letter again; its headers name the original
   * topic/partition/offset, which identify it.
   */
  send(letters: readonly DeadLetter[]): Promise<void>;
}

/** The letter of `record` of a batch: the record byte for byte, with why and where from. */
export function letterFor(
  batch: { topic: string; partition: number },
  record: {
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, string>;
  },
  reason: string,
  stage: DeadLetter["stage"],
): DeadLetter {
  return {
    key: record.key,
    value: record.value,
    headers: record.headers,
    reason,
    stage,
    topic: batch.topic,
    partition: batch.partition,
    offset: record.offset,
  };
}
