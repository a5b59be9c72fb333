/** The `records:batch` route: several records as `{ entries }` in one request, one result each. */
import { DependencyUnavailableError, type DriftlineError } from "#core/errors";
import { errorForStatus, failure, httpStatusOf } from "./error-for-status";
import type { KafkaRestOutcome, KafkaRestRecord } from "./kafka-rest-record";
import { toWire } from "./kafka-rest-record";
import type { KafkaRestTransport } from "./kafka-rest-transport";

/** The chunk's outcomes in order, or the error of the request as a whole (with its status). */
export async function produceRecordsBatch(
  transport: KafkaRestTransport,
  topic: string,
  chunk: readonly KafkaRestRecord[],
  offset: number,
): Promise<
  | { kind: "ok"; outcomes: KafkaRestOutcome[] }
  | { kind: "error"; status: number; error: DriftlineError }
> {
  const ids = chunk.map((_, i) => `r${offset + i}`);
  const entries = chunk.map((r, i) => ({ id: ids[i], ...toWire(r) }));
  const result = await transport.send(topic, "records:batch", { entries });
  if (result.kind === "error") return result;
  const body = result.body as {
    successes?: Array<{ id?: unknown; partition_id?: unknown; offset?: unknown }>;
    failures?: Array<{ id?: unknown; error_code?: unknown; message?: unknown }>;
  };
  const byId = new Map<unknown, KafkaRestOutcome>();
  for (const s of body.successes ?? []) {
    byId.set(s.id, { ok: true, partitionId: Number(s.partition_id), offset: Number(s.offset) });
  }
  for (const f of body.failures ?? []) {
    const code = typeof f.error_code === "number" ? f.error_code : 500;
    const message = typeof f.message === "string" ? f.message : `error_code ${code}`;
    byId.set(f.id, failure(errorForStatus(httpStatusOf(code), message, { topic })));
  }
  const outcomes = ids.map(
    (id) =>
      byId.get(id) ??
      failure(
        new DependencyUnavailableError(
          `Kafka REST answered records:batch for ${topic} without a result for entry ${id}.`,
        ),
      ),
  );
  return { kind: "ok", outcomes };
}
