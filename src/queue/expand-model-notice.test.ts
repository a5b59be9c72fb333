import { describe, expect, it } from "vitest";
import type { ModelManifest } from "#core/model-manifest";
import {
  modelRegistryKey,
  modelRegistryRecordSchema,
  promotedNotice,
  uploadedNotice,
} from "#core/model-registry-message";
import { fakeManifest } from "../../test/support/fake-services";
import type { StoredVersionInfo } from "../model-registry/model-registry-ports";
import { consumeIngestBatch } from "./consume-ingest-batch";
import { expandModelNotice, type ModelVersionReader } from "./expand-model-notice";
import type { IngestMessage } from "./ingest-message";
import type { QueueMessageLike } from "./queue-ports";
import { FakeMessage, RecordingSink } from "./testing/queue-fakes";

const INFO: StoredVersionInfo = {
  version: "2",
  uploadedAt: "2026-11-22T10:00:00.000Z",
  sizeBytes: 1234,
  sha256: "b".repeat(64),
  features: 3,
};

/** Versions by `tenant/name/version`; `down` makes every read throw like an R2 outage. */
class FakeReader implements ModelVersionReader {
  readonly versions = new Map<string, { manifest: ModelManifest; info: StoredVersionInfo }>();
  reads = 0;
  down = false;
  async getVersion(tenant: string, name: string, version: string) {
    this.reads += 1;
    if (this.down) throw new Error("R2 GET failed: 503");
    return this.versions.get(`${tenant}/${name}/${version}`);
  }
}

const models = (value: unknown): IngestMessage => ({
  topic: "models",
  key: modelRegistryKey("acme", "conversion"),
  value,
});

function setup() {
  const reader = new FakeReader();
  const manifest = fakeManifest(3);
  reader.versions.set("acme/conversion/2", { manifest, info: INFO });
  const sink = new RecordingSink();
  const logs: Record<string, unknown>[] = [];
  const consume = (messages: QueueMessageLike[], maxRecordBytes?: number) =>
    consumeIngestBatch(messages, {
      sink,
      topicPrefix: "p.",
      log: (e) => logs.push(e),
      expanders: {
        models: expandModelNotice({
          reader,
          log: (e) => logs.push(e),
          ...(maxRecordBytes === undefined ? {} : { maxRecordBytes }),
        }),
      },
    });
  return { reader, manifest, sink, logs, consume };
}

describe("consumeIngestBatch with the model notice expander", () => {
  it("produces an upload with its stored manifest and a promotion as queued, in order, to the registry topic", async () => {
    const { sink, manifest, consume } = setup();
    const promoted = promotedNotice("acme", "conversion", {
      champion: "2",
      promotedAt: "2026-11-22T10:05:00.000Z",
    });
    const event = new FakeMessage("e", {
      topic: "events",
      key: "acme:ev-1",
      value: { eventName: "Purchase" },
    });
    const upload = new FakeMessage("u", models(uploadedNotice("acme", "conversion", "2")));
    const promote = new FakeMessage("p", models(promoted));

    const result = await consume([event, upload, promote]);

    expect(result).toEqual({ produced: 3, retried: 0, requeued: 0, dropped: 0, parked: 0 });
    expect([event, upload, promote].every((m) => m.acked)).toBe(true);
    expect(sink.produced.map((p) => p.topic)).toEqual(["p.events", "p.model-registry"]);
    const [uploaded, promotion] = sink.produced[1]!.records;
    expect(uploaded!.key).toBe("acme:conversion");
    expect(uploaded!.value).toEqual({
      ...uploadedNotice("acme", "conversion", "2"),
      uploadedAt: INFO.uploadedAt,
      sizeBytes: INFO.sizeBytes,
      sha256: INFO.sha256,
      manifest,
    });
    // What the stream processor will read back.
    expect(modelRegistryRecordSchema.parse(uploaded!.value)).toMatchObject({ version: "2" });
    expect(promotion).toEqual({ key: "acme:conversion", value: promoted, headers: undefined });
  });

  it("redelivers a notice when the model store cannot be read, and produces nothing for it", async () => {
    const { sink, reader, consume } = setup();
    reader.down = true;
    const upload = new FakeMessage("u", models(uploadedNotice("acme", "conversion", "2")), 3);
    const result = await consume([upload]);
    expect(result).toEqual({ produced: 0, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect(upload.acked).toBe(false);
    expect(upload.retriedWith).toEqual({ delaySeconds: 8 });
    expect(sink.produced).toEqual([]);
  });

  it("drops (acks) a notice for a version the store does not hold, and one that is not a notice", async () => {
    const { sink, logs, consume } = setup();
    const missing = new FakeMessage("m", models(uploadedNotice("acme", "conversion", "9")));
    const garbage = new FakeMessage("g", models({ action: "uploaded", tenant: "acme" }));
    const result = await consume([missing, garbage]);
    expect(result).toEqual({ produced: 0, retried: 0, requeued: 0, dropped: 2, parked: 0 });
    expect(missing.acked && garbage.acked).toBe(true);
    expect(sink.produced).toEqual([]);
    const reasons = logs.filter((l) => l.level === "error").map((l) => String(l.reason));
    expect(reasons[0]).toMatch(/version 9 of tenant acme is not in the model store/);
    expect(reasons[1]).toMatch(/not a model registry notice v1/);
  });

  it("redelivers (towards the dead-letter queue) a manifest too large for a record even without its reference", async () => {
    const { sink, logs, consume } = setup();
    const upload = new FakeMessage("u", models(uploadedNotice("acme", "conversion", "2")));
    const result = await consume([upload], 200);
    expect(result).toEqual({ produced: 0, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect(upload.retriedWith).toEqual({ delaySeconds: 2 });
    expect(sink.produced).toEqual([]);
    expect(logs.find((l) => l.level === "warn")).toMatchObject({
      retryable: false,
      reason: expect.stringMatching(/too large for a Kafka record/),
    });
  });
});
