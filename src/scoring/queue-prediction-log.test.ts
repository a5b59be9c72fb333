import { describe, expect, it } from "vitest";
import type { PredictionRecord } from "#core/scoring";
import type { IngestMessage } from "../queue/ingest-message";
import { type IngestQueueBody, parseIngestQueueBody } from "../queue/ingest-queue-body";
import { QueuePredictionLog } from "./queue-prediction-log";

/** Records the sendBatch calls: per call, its message bodies. */
class FakeQueue {
  readonly calls: IngestQueueBody[][] = [];
  constructor(private readonly failing = false) {}
  async sendBatch(messages: Iterable<MessageSendRequest<IngestQueueBody>>): Promise<void> {
    if (this.failing) throw new Error("queue unavailable");
    this.calls.push([...messages].map((m) => m.body));
  }
  /** The records of each call, unbundled. */
  get records(): IngestMessage[][] {
    return this.calls.map((call) =>
      call.flatMap((body) => {
        const parsed = parseIngestQueueBody(body);
        if (parsed.kind !== "bundle") throw new Error(`expected a bundle, got ${parsed.kind}`);
        return parsed.records;
      }),
    );
  }
}

function records(n: number, from = 0, featureBytes = 10): PredictionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    schemaVersion: 1,
    tenant: "t",
    predictionId: `p${from + i}`,
    model: "m",
    version: "1",
    features: { f: "x".repeat(featureBytes) },
    score: 0.5,
    scoredAt: "2026-11-22T00:00:00.000Z",
  }));
}

const log = (queue: FakeQueue, lingerMs = 0) => new QueuePredictionLog(queue, { lingerMs });

describe("QueuePredictionLog", () => {
  it("sends predictions records keyed tenant:predictionId, many to a queue message", async () => {
    const queue = new FakeQueue();
    await log(queue).write(records(250));
    // ~250 B rows: one bundle, one call.
    expect(queue.calls.map((c) => c.length)).toEqual([1]);
    expect(queue.records[0]).toHaveLength(250);
    expect(queue.records[0]![0]).toMatchObject({
      topic: "predictions",
      key: "t:p0",
      value: { predictionId: "p0" },
    });
    expect(queue.records[0]!.map((r) => r.key)).toEqual(
      records(250).map((r) => `t:${r.predictionId}`),
    );
  });

  it("keeps each message under 128 KB and each call under 256 KB", async () => {
    const queue = new FakeQueue();
    await log(queue).write(records(20, 0, 30_000));
    expect(queue.calls.length).toBeGreaterThan(2);
    for (const call of queue.calls) {
      expect(call.reduce((sum, body) => sum + String(body).length, 0)).toBeLessThan(256_000);
      for (const body of call) expect(String(body).length).toBeLessThan(128_000);
    }
    expect(queue.records.flat()).toHaveLength(20);
  });

  it("lets writes within the linger join one send, owned by the first", async () => {
    const queue = new FakeQueue();
    const target = log(queue, 20);
    const first = target.write(records(2, 0));
    const second = target.write(records(3, 2));
    const third = target.write(records(1, 5));
    await Promise.all([second, third]);
    expect(queue.calls).toHaveLength(0); // joined writes do not wait; the first write's send does
    await first;
    expect(queue.calls).toHaveLength(1);
    expect(queue.records[0]!.map((m) => m.key)).toEqual([
      "t:p0",
      "t:p1",
      "t:p2",
      "t:p3",
      "t:p4",
      "t:p5",
    ]);
    // After the snapshot, the next write schedules its own send.
    await target.write(records(1, 6));
    expect(queue.calls).toHaveLength(2);
  });

  it("rejects with a count when the queue refuses", async () => {
    await expect(log(new FakeQueue(true)).write(records(3))).rejects.toThrow(
      /3 of 3 prediction rows were not queued: queue unavailable/,
    );
  });
});
