/** The single-record route: `records` with one record per request. */
import type { DriftlineError } from "#core/errors";
import { failure, isPerRecordStatus, parseDeliveryReport } from "./error-for-status";
import {
  type KafkaRestOutcome,
  type KafkaRestRecord,
  type ProducedRecord,
  toWire,
} from "./kafka-rest-record";
import type { KafkaRestTransport } from "./kafka-rest-transport";

/** One record; throws the outcome's DriftlineError. */
export async function produceOne(
  transport: KafkaRestTransport,
  topic: string,
  record: KafkaRestRecord,
): Promise<ProducedRecord> {
  const result = await transport.send(topic, "records", toWire(record));
  if (result.kind === "error") throw result.error;
  const outcome = parseDeliveryReport(result.body);
  if (!outcome.ok) throw outcome.error;
  return { partitionId: outcome.partitionId, offset: outcome.offset };
}

/**
 * Sends records singly, in order, writing the outcome of record `i` to `outcomes[start + i]`;
 * returns the error that must stop the rest, if any.
 */
export async function produceOneByOne(
  transport: KafkaRestTransport,
  topic: string,
  records: readonly KafkaRestRecord[],
  start: number,
  outcomes: Array<KafkaRestOutcome | undefined>,
): Promise<DriftlineError | undefined> {
  for (const [i, record] of records.entries()) {
    const result = await transport.send(topic, "records", toWire(record));
    if (result.kind === "ok") {
      outcomes[start + i] = parseDeliveryReport(result.body);
      continue;
    }
    outcomes[start + i] = failure(result.error);
    if (!isPerRecordStatus(result.status)) return result.error;
  }
  return undefined;
}
