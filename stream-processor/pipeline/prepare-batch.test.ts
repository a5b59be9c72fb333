import { describe, expect, it } from "vitest";
import type { BatchStage, DecodedMessage } from "../batch/batch-stage";
import type { SourceBatch } from "../kafka/event-source";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";
import { createRecordDecoder } from "./decode-record";
import { type ObservedRecord, prepareBatch } from "./prepare-batch";

const T0 = Date.parse("2026-03-01T10:15:30Z");
const decode = createRecordDecoder("envelope");

function batchOf(values: (Buffer | null)[]): SourceBatch {
  return {
    topic: "events",
    partition: 0,
    records: values.map((value, i) => ({
      offset: String(i),
      key: null,
      value,
      headers: {},
      timestampMs: T0,
    })),
    expectedNextOffset: null,
    nextOffset: String(values.length),
    highWatermark: String(values.length),
  };
}

const event = (id: string, predictionId?: string) =>
  toValue(sampleEventMessage({ eventId: id, eventTimeMs: T0, predictionId }));

describe("prepareBatch and batch stages", () => {
  it("gives each stage's select the validated message of every accepted record, once", async () => {
    const seen: DecodedMessage[] = [];
    const selecting: BatchStage = {
      select(record) {
        seen.push(record);
        return record.kind === "event" ? record.message.predictionId : undefined;
      },
      async apply() {},
    };
    const silent: BatchStage = { async apply() {} };
    const prepared = await prepareBatch(
      batchOf([event("a", "p-1"), Buffer.from("{"), event("a", "p-1"), event("b")]),
      "event",
      decode,
      [silent, selecting],
    );
    expect(prepared.accepted.map((r) => r.outcome === undefined && r.stageInputs)).toEqual([
      [undefined, "p-1"],
      undefined,
    ]);
    // Neither the poison record nor the in-batch repeat reached a stage.
    expect(seen.map((r) => r.kind === "event" && r.message.eventId)).toEqual(["a", "b"]);
    expect(prepared.deadLetters).toHaveLength(1);
    expect(prepared.inBatchDuplicates).toBe(1);
  });

  it("hands predictions over as the prediction record", async () => {
    const m = samplePrediction({ predictionId: "p-9", scoredAtMs: T0 });
    const prepared = await prepareBatch(
      { ...batchOf([toValue(m)]), topic: "predictions" },
      "prediction",
      decode,
      [{ select: (record) => record, async apply() {} }],
    );
    expect((prepared.accepted[0] as ObservedRecord | undefined)?.stageInputs).toEqual([
      { kind: "prediction", message: m },
    ]);
  });

  it("keeps nothing per record when no stage selects", async () => {
    const prepared = await prepareBatch(batchOf([event("a")]), "event", decode, [
      { async apply() {} },
    ]);
    expect(prepared.accepted[0]).not.toHaveProperty("stageInputs");
  });
});
