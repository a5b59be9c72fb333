import { describe, expect, it } from "vitest";
import type { ModelManifest } from "./model-manifest.ts";
import { modelManifestSchema } from "./model-manifest.ts";
import {
  buildUploadedRecord,
  MAX_REGISTRY_RECORD_BYTES,
  type ModelUploadedRecord,
  modelRegistryKey,
  modelRegistryNoticeSchema,
  modelRegistryRecordSchema,
  promotedNotice,
  uploadedNotice,
} from "./model-registry-message.ts";
import { createRandom } from "./random/prng.ts";

/** Seeded uniform numbers in [0, 1), so a failing run can be replayed. */
const rng = (seed: number): (() => number) => createRandom(seed).next;

/**
 * A manifest like the ones models/train writes (10 quantile bins, a sorted KS sample per numeric
 * feature and for the score), with `features` numeric features and 6-decimal sample values,
 * which are longer than the bundled model's mostly integral ones.
 */
function manifestWith(features: number, sampleSize: number, seed = 1): ModelManifest {
  const rand = rng(seed);
  const names = Array.from({ length: features }, (_, i) => `feature_${i}`);
  const numeric = () => {
    const sample = Array.from({ length: sampleSize }, () => Math.round(rand() * 1e9) / 1e6).sort(
      (a, b) => a - b,
    );
    const edges = Array.from(
      { length: 9 },
      (_, i) => sample[Math.floor(((i + 1) * sampleSize) / 10)]!,
    );
    return {
      type: "number" as const,
      edges,
      proportions: Array.from({ length: 10 }, () => 0.1),
      sample,
      count: 20_000,
    };
  };
  return modelManifestSchema.parse({
    name: "wide",
    version: "1",
    input: "features",
    output: { name: "probability", index: 0 },
    features: names.map((name) => ({ name, type: "number", default: 0 })),
    trainedAt: "2026-11-22T00:00:00.000Z",
    reference: {
      rows: 20_000,
      features: Object.fromEntries(names.map((n) => [n, numeric()])),
      score: numeric(),
    },
  });
}

const STORED = {
  uploadedAt: "2026-11-22T10:00:00.000Z",
  sizeBytes: 4096,
  sha256: "a".repeat(64),
};
const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).byteLength;

describe("registry notices", () => {
  it("builds an upload notice and a promotion whose version is the champion", () => {
    expect(modelRegistryNoticeSchema.parse(uploadedNotice("acme", "conversion", "3"))).toEqual({
      schemaVersion: 1,
      kind: "model-version",
      action: "uploaded",
      tenant: "acme",
      name: "conversion",
      version: "3",
    });
    const promoted = promotedNotice("acme", "conversion", {
      champion: "3",
      challenger: { version: "4", share: 0.1 },
      promotedAt: "2026-11-22T10:00:00.000Z",
    });
    expect(modelRegistryNoticeSchema.parse(promoted)).toEqual({
      schemaVersion: 1,
      kind: "model-version",
      action: "promoted",
      tenant: "acme",
      name: "conversion",
      version: "3",
      active: {
        champion: "3",
        challenger: { version: "4", share: 0.1 },
        promotedAt: "2026-11-22T10:00:00.000Z",
      },
    });
    expect(modelRegistryKey("acme", "conversion")).toBe("acme:conversion");
  });

  const promoted = promotedNotice("acme", "m", {
    champion: "1",
    promotedAt: "2026-11-22T10:00:00.000Z",
  });
  it.each([
    ["an unknown schema version", { ...promoted, schemaVersion: 2 }, "schemaVersion"],
    ["a tenant that is not an identifier", { ...promoted, tenant: "a b" }, "tenant"],
    ["a name with a slash", { ...uploadedNotice("acme", "m", "1"), name: "../x" }, "name"],
    ["a version that is not the champion", { ...promoted, version: "2" }, "version"],
    [
      "a challenger equal to the champion",
      { ...promoted, active: { ...promoted.active, challenger: { version: "1", share: 0.5 } } },
      "active.challenger.version",
    ],
    [
      "a challenger share of 1",
      { ...promoted, active: { ...promoted.active, challenger: { version: "2", share: 1 } } },
      "active.challenger.share",
    ],
    [
      "a promotion without its time",
      { ...promoted, active: { champion: "1" } },
      "active.promotedAt",
    ],
    ["an unknown action", { ...promoted, action: "deleted" }, "action"],
  ])("refuses %s", (_what, value, field) => {
    const parsed = modelRegistryNoticeSchema.safeParse(value);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toContain(field);
  });

  it("requires a valid manifest and upload facts in an uploaded record, not in its notice", () => {
    const notice = uploadedNotice("acme", "m", "1");
    expect(modelRegistryRecordSchema.safeParse(notice).success).toBe(false);
    const built = buildUploadedRecord(notice, { manifest: manifestWith(2, 10), ...STORED });
    expect(built.ok).toBe(true);
    const record = (built as { record: ModelUploadedRecord }).record;
    expect(modelRegistryRecordSchema.parse(JSON.parse(JSON.stringify(record)))).toEqual(record);
    const badSum = structuredClone(record);
    badSum.manifest.reference!.features.feature_0!.proportions[0] = 0.9;
    const parsed = modelRegistryRecordSchema.safeParse(badSum);
    expect(parsed.error?.issues[0]?.path.join(".")).toBe(
      "manifest.reference.features.feature_0.proportions",
    );
    expect(modelRegistryRecordSchema.safeParse({ ...record, sha256: "xyz" }).success).toBe(false);
  });
});

describe("buildUploadedRecord", () => {
  const notice = uploadedNotice("acme", "wide", "1");

  it("keeps a 30-feature manifest with 1000-value KS samples whole, under 1 MiB", () => {
    const manifest = manifestWith(30, 1_000);
    const built = buildUploadedRecord(notice, { manifest, ...STORED });
    if (!built.ok) throw new Error(built.reason);
    expect(built.record.trimmed).toBeUndefined();
    expect(built.record.manifest).toEqual(manifest);
    expect(built.bytes).toBe(bytesOf(built.record));
    // ~31 samples of 1000 six-decimal values: about 0.35 MB, well inside both limits.
    expect(built.bytes).toBeGreaterThan(250_000);
    expect(built.bytes).toBeLessThan(MAX_REGISTRY_RECORD_BYTES);
    expect(MAX_REGISTRY_RECORD_BYTES).toBeLessThan(1024 * 1024);
  });

  it("thins the KS samples with the smallest stride that fits, keeping the bins whole", () => {
    const manifest = manifestWith(30, 5_000);
    const built = buildUploadedRecord(notice, { manifest, ...STORED });
    if (!built.ok) throw new Error(built.reason);
    const stride = built.record.trimmed?.sampleStride;
    expect(stride).toBeGreaterThanOrEqual(2);
    expect(built.record.trimmed?.originalBytes).toBe(bytesOf({ ...notice, ...STORED, manifest }));
    expect(built.bytes).toBeLessThanOrEqual(MAX_REGISTRY_RECORD_BYTES);
    const original = manifest.reference!.features.feature_7!;
    const kept = built.record.manifest.reference!.features.feature_7!;
    expect(kept.type === "number" && kept.sample).toEqual(
      original.type === "number" && original.sample!.filter((_, i) => i % stride! === 0),
    );
    expect(kept).toMatchObject({ edges: (original as { edges: number[] }).edges, count: 20_000 });
    // One stride less would not have fitted.
    const thinner = structuredClone(manifest);
    for (const r of [...Object.values(thinner.reference!.features), thinner.reference!.score!]) {
      if (r.type === "number") r.sample = r.sample!.filter((_, i) => i % (stride! - 1) === 0);
    }
    expect(bytesOf({ ...notice, ...STORED, manifest: thinner })).toBeGreaterThan(
      MAX_REGISTRY_RECORD_BYTES,
    );
    // The record still passes the stream processor's schema.
    expect(modelRegistryRecordSchema.safeParse(built.record).success).toBe(true);
  });

  it("drops the reference when even bins alone do not fit, and refuses a manifest too large without it", () => {
    const manifest = manifestWith(30, 200);
    const withoutReference = bytesOf({
      ...notice,
      ...STORED,
      manifest: { ...manifest, reference: undefined },
    });
    const dropped = buildUploadedRecord(notice, { manifest, ...STORED }, withoutReference + 100);
    if (!dropped.ok) throw new Error(dropped.reason);
    expect(dropped.record.trimmed).toMatchObject({ referenceDropped: true });
    expect(dropped.record.manifest.reference).toBeUndefined();
    expect(dropped.record.manifest.features).toHaveLength(30);

    const refused = buildUploadedRecord(notice, { manifest, ...STORED }, 1_000);
    expect(refused).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /too large for a Kafka record even without its drift reference/,
      ),
    });
  });
});
