/** The streaming route: records as concatenated JSON in one chunked `records` request, one delivery report each. */
import { DependencyUnavailableError, type DriftlineError } from "#core/errors";
import { concatenatedJson } from "#core/kafka-rest";
import { isPerRecordStatus, parseDeliveryReport } from "./error-for-status";
import {
  type KafkaRestOutcome,
  type KafkaRestRecord,
  type ProduceRoute,
  toWire,
} from "./kafka-rest-record";
import type { KafkaRestTransport } from "./kafka-rest-transport";
import { produceOneByOne } from "./produce-one-by-one";

/**
 * Produces one chunk in streaming mode, writing its outcomes in place from `start`; returns the
 * error that must stop the rest of the call, if any. `learn` is given while the route is unknown
 * (auto mode) and settles it: `stream` when several records were reported, `single` when the
 * server answered only the first of several or refused the stream as a request.
 */
export async function produceStream(
  transport: KafkaRestTransport,
  topic: string,
  chunk: readonly KafkaRestRecord[],
  start: number,
  outcomes: Array<KafkaRestOutcome | undefined>,
  learn?: (route: ProduceRoute) => void,
): Promise<DriftlineError | undefined> {
  const learning = learn !== undefined;
  let body = "";
  for (const record of chunk) body += JSON.stringify(toWire(record));
  const result = await transport.request(topic, "records", streamOf(body));
  if (result.kind === "error") {
    if (learning && result.status === 404) return result.error;
    if (
      (learning && isPerRecordStatus(result.status)) ||
      (result.status === 413 && chunk.length > 1)
    ) {
      // A server that refuses the stream as a whole, or a chunk over its body limit: the
      // records one by one (a refused record then gets its own answer).
      learn?.("single");
      return produceOneByOne(transport, topic, chunk, start, outcomes);
    }
    return result.error;
  }
  let reports: unknown[];
  try {
    reports = concatenatedJson(result.text);
  } catch (err) {
    return new DependencyUnavailableError(
      `Kafka REST answered a stream of ${chunk.length} records to ${topic} with reports that are not JSON: ${(err as Error).message}`,
      { cause: err, context: { topic } },
    );
  }
  const reported = Math.min(reports.length, chunk.length);
  for (let i = 0; i < reported; i++) outcomes[start + i] = parseDeliveryReport(reports[i]);
  // What a stream shows: one record answered of several is a server that reads one record per
  // request; several answered, a streaming server (one that stopped early has failed the rest).
  // A one-record stream shows nothing, so it teaches nothing.
  if (learning && chunk.length > 1 && reported > 0) {
    learn?.(reported === 1 ? "single" : "stream");
  }
  if (reported === chunk.length) return undefined;
  if (learning && reported === 1) {
    // A server that reads one record per request: the rest were not produced.
    return produceOneByOne(transport, topic, chunk.slice(1), start + 1, outcomes);
  }
  return new DependencyUnavailableError(
    `Kafka REST answered ${reported} delivery reports for a stream of ${chunk.length} records to ${topic}.`,
    { context: { topic } },
  );
}

/** `text` as a one-chunk stream: a body of unknown length, which fetch sends chunked. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
