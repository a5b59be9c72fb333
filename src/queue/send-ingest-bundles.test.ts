import { describe, expect, it } from "vitest";
import { IngestBundleEnvelope } from "./ingest-message";
import {
  bundleFrameBytes,
  type IngestQueueBody,
  ingestBundleText,
  ingestMessageText,
} from "./ingest-queue-body";
import {
  MAX_BUNDLE_BYTES,
  planBundles,
  planSendBatches,
  sendIngestBundles,
  utf8ByteLength,
} from "./send-ingest-bundles";
import { RecordingQueue } from "./testing/queue-fakes";

const bytes = (text: string) => new TextEncoder().encode(text).length;

describe("utf8ByteLength", () => {
  it.each([
    "",
    "plain ascii",
    "é",
    "€ 100",
    "😀 emoji (surrogate pair)",
    "mixed ü 日本語 🇩🇪",
    "\u07ff\u0800\uffff",
    "tab\tnewline\n delete\u007f",
  ])("matches TextEncoder for %j", (text) => {
    expect(utf8ByteLength(text)).toBe(bytes(text));
  });
});

describe("planSendBatches", () => {
  const limits = { messages: 3, bytes: 1_000 };

  it("cuts at the message count, keeping order", () => {
    expect(planSendBatches([1, 1, 1, 1, 1, 1, 1], limits)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it("cuts before a message that would overflow the byte budget (100 bytes overhead each)", () => {
    // 400 + 100 overhead = 500 per message: two fit in 1000, a third would not.
    expect(planSendBatches([400, 400, 400, 10], limits)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it("gives an oversized message a batch of its own rather than dropping it", () => {
    expect(planSendBatches([10, 5_000, 10], limits)).toEqual([[0], [1], [2]]);
  });

  it("plans nothing for no messages", () => {
    expect(planSendBatches([], limits)).toEqual([]);
  });

  it("fits two full bundles in one call", () => {
    expect(planSendBatches([MAX_BUNDLE_BYTES, MAX_BUNDLE_BYTES, MAX_BUNDLE_BYTES])).toEqual([
      [0, 1],
      [2],
    ]);
  });
});

describe("ingestBundleText", () => {
  it("is JSON.stringify of the bundle envelope, with the frame size bundleFrameBytes says", () => {
    const records = [
      { topic: "capi" as const, key: "acme:1", value: { a: "日本 😀" } },
      { topic: "capi" as const, key: "acme:2", value: { b: 2 } },
    ];
    const texts = records.map((r) => ingestMessageText(r.topic, r.key, JSON.stringify(r.value)));
    for (const attempts of [0, 7, 12, 130]) {
      const text = ingestBundleText(texts, attempts);
      expect(text).toBe(JSON.stringify({ bundle: 1, attempts, records }));
      expect(IngestBundleEnvelope.parse(JSON.parse(text)).records).toEqual(records);
      expect(bytes(text) - texts.reduce((sum, t) => sum + bytes(t), 0)).toBe(
        bundleFrameBytes(texts.length, attempts),
      );
    }
  });
});

describe("planBundles", () => {
  it("packs consecutive records while the bundle text, frame included, stays within the budget", () => {
    expect(bundleFrameBytes(3)).toBe(40);
    const budget = 300 + bundleFrameBytes(3);
    expect(planBundles([100, 100, 100, 100, 100], budget)).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
    // One byte less and the third record no longer fits.
    expect(planBundles([100, 100, 100, 100, 100], budget - 1)).toEqual([[0, 1], [2, 3], [4]]);
  });

  it("puts a record too large to share a bundle alone in its own, keeping order", () => {
    expect(planBundles([50, 5_000, 50, 50], 1_000)).toEqual([[0], [1], [2, 3]]);
  });

  it("plans nothing for no records", () => {
    expect(planBundles([], 1_000)).toEqual([]);
  });

  it("measures UTF-8 bytes: multi-byte records fill a bundle sooner than their string length says", async () => {
    const queue = new RecordingQueue();
    // Fillers of 600 UTF-16 units each: 600 bytes of "a", 1200 of "é", 1200 of 300 "😀".
    const texts = ["a".repeat(600), "é".repeat(600), "😀".repeat(300), "a".repeat(600)].map(
      (filler, i) => ingestMessageText("capi", `t:${i}`, JSON.stringify({ filler })),
    );
    const budget = 3_500;
    await sendIngestBundles(queue, texts, budget);
    const bodies = queue.bodies();
    for (const body of bodies) expect(bytes(body)).toBeLessThanOrEqual(budget);
    // By string length all four (~2,500 units) would fit; by bytes (~5,000) they do not.
    expect(texts.reduce((sum, t) => sum + t.length, 0)).toBeLessThan(budget);
    expect(bodies.length).toBe(2);
    expect(queue.records().map((r) => r.key)).toEqual(["t:0", "t:1", "t:2", "t:3"]);
  });
});

describe("sendIngestBundles", () => {
  const texts = (n: number, valueBytes: number) =>
    Array.from({ length: n }, (_, i) =>
      ingestMessageText("events", `t:${i}`, JSON.stringify({ v: "x".repeat(valueBytes) })),
    );

  it("sends bundles as text within 120 KB, at most two per call, every record once and in order", async () => {
    const queue = new RecordingQueue();
    const records = texts(1_000, 2_500);
    const outcome = await sendIngestBundles(queue, records);
    expect(outcome).toEqual({ notQueued: [], reason: "" });
    for (const call of queue.calls) {
      expect(call.length).toBeLessThanOrEqual(2);
      expect(call.reduce((sum, m) => sum + bytes(m.body as string), 0)).toBeLessThan(256_000);
      for (const m of call) {
        expect(m.contentType).toBe("text");
        expect(bytes(m.body as string)).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
      }
    }
    // ~2.5 KB records: ~46 to a bundle, ~22 bundles, ~11 calls instead of 1,000 messages.
    expect(queue.bodies().length).toBeLessThan(25);
    expect(queue.records().map((r) => r.key)).toEqual(records.map((_, i) => `t:${i}`));
  });

  it("names exactly the records of the calls that failed", async () => {
    const queue = new RecordingQueue();
    queue.failCalls = new Set([2]);
    // 40 records of ~10 KB: 11 to a bundle (bundles 0-10, 11-21, 22-32, 33-39), two bundles a call.
    const outcome = await sendIngestBundles(queue, texts(40, 10_000));
    expect(outcome.reason).toBe("call 2 refused");
    expect(outcome.notQueued).toEqual(Array.from({ length: 18 }, (_, i) => 22 + i));
    const queued = queue.records().map((r) => Number(r.key.slice(2)));
    expect(queued).toEqual(Array.from({ length: 22 }, (_, i) => i));
  });

  it("counts a sendBatch that throws synchronously as that call's failure", async () => {
    const queue = {
      sendBatch(): Promise<void> {
        throw new Error("binding gone");
      },
    };
    const outcome = await sendIngestBundles(
      queue as unknown as Queue<IngestQueueBody>,
      texts(3, 10),
    );
    expect(outcome).toEqual({ notQueued: [0, 1, 2], reason: "binding gone" });
  });
});
