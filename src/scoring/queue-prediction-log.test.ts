import { describe, expect, it } from "vitest";
import type { PredictionRecord } from "../core/scoring/prediction-record";
import type { IngestMessage } from "../queue/ingest-message";
import { QueuePredictionLog } from "./queue-prediction-log";

class FakeQueue {
  readonly calls: IngestMessage[][] = [];
  constructor(private readonly failing = false) {}
  async sendBatch(messages: Iterable<MessageSendRequest<IngestMessage>>): Promise<void> {
    if (this.failing) throw new Error("queue unavailable");
    this.calls.push([...messages].map((m) => m.body));
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

const log = (queue: FakeQueue, lingerMs = 0) =>
  new QueuePredictionLog(queue as unknown as Queue<IngestMessage>, { lingerMs });

describe("QueuePredictionLog", () => {
  it("sends predictions messages keyed tenant:predictionId, at most 100 per call", async () => {
    const queue = new FakeQueue();
    await log(queue).write(records(250));
    expect(queue.calls.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(queue.calls[0]![0]).toMatchObject({
      topic: "predictions",
      key: "t:p0",
      value: { predictionId: "p0" },
    });
  });

  it("splits calls by size so one stays under the 256 KB batch limit", async () => {
    const queue = new FakeQueue();
    await log(queue).write(records(20, 0, 30_000));
    expect(queue.calls.length).toBeGreaterThan(2);
    for (const call of queue.calls) expect(JSON.stringify(call).length).toBeLessThan(256_000);
    expect(queue.calls.flat()).toHaveLength(20);
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
    expect(queue.calls[0]!.map((m) => m.key)).toEqual([
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
      /1 of 1 prediction batches \(3 rows\)/,
    );
  });
});
