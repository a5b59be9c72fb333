import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { promotedNotice, uploadedNotice } from "#core/model-registry-message";
import { fakeManifest } from "../../test/support/fake-services";
import { decodeRegistryRecord } from "./decode-registry-record";

const uploaded = {
  ...uploadedNotice("acme", "conversion", "2"),
  uploadedAt: "2026-11-22T10:00:00.000Z",
  sizeBytes: 100,
  sha256: "c".repeat(64),
  manifest: fakeManifest(2),
};
const promoted = promotedNotice("acme", "conversion", {
  champion: "2",
  promotedAt: "2026-11-22T10:01:00.000Z",
});
const value = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));

describe("decodeRegistryRecord", () => {
  it("reads uploads (manifest defaults applied) and promotions", () => {
    expect(decodeRegistryRecord(value(uploaded))).toEqual({ ok: true, record: uploaded });
    const { input: _input, ...withoutInput } = uploaded.manifest;
    const decoded = decodeRegistryRecord(value({ ...uploaded, manifest: withoutInput }));
    expect(
      decoded.ok && decoded.record.action === "uploaded" && decoded.record.manifest.input,
    ).toBe("features");
    expect(decodeRegistryRecord(value(promoted))).toEqual({ ok: true, record: promoted });
  });

  it.each([
    ["no value", null, /has no value/],
    ["not JSON", value("{nope"), /not valid JSON/],
    ["a queue notice without its manifest", value(uploadedNotice("a", "m", "1")), /manifest/],
    [
      "an invalid manifest",
      value({ ...uploaded, manifest: { ...uploaded.manifest, features: [] } }),
      /manifest\.features: needs at least one feature/,
    ],
    ["a bad tenant", value({ ...promoted, tenant: "-x" }), /tenant: 1–64 characters/],
    ["U+0000 anywhere", value({ ...promoted, note: "a\u0000b" }), /note: .*U\+0000/],
    [
      "a lone surrogate in a manifest category",
      value({
        ...uploaded,
        manifest: {
          ...uploaded.manifest,
          features: [{ name: "device", type: "categorical", categories: ["a", "\ud800"] }],
        },
      }),
      /manifest\.features\.0\.categories\.1: .*lone UTF-16 surrogate/,
    ],
    ["a lone surrogate in a key", value({ ...promoted, "n\udc00": 1 }), /\(root\): has a key/],
  ])("refuses %s, saying why", (_what, raw, reason) => {
    const decoded = decodeRegistryRecord(raw);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(reason);
    expect(!decoded.ok && decoded.reason.isWellFormed()).toBe(true);
  });

  it("keeps a manifest whose text holds a literal backslash-u0000", () => {
    const manifest = { ...uploaded.manifest, description: "escape with \\u0000" };
    expect(decodeRegistryRecord(value({ ...uploaded, manifest })).ok).toBe(true);
  });

  it("never throws and never accepts unstorable manifest text (property)", () => {
    const text = fc.oneof(fc.string({ unit: "binary" }), fc.constantFrom("\ud800", "a\u0000"));
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 4 }), text, (categories, name) => {
        const manifest = {
          ...uploaded.manifest,
          features: [{ name: name || "f", type: "categorical", categories }],
        };
        const decoded = decodeRegistryRecord(value({ ...uploaded, manifest }));
        const texts = [name, ...categories];
        if (decoded.ok) {
          expect(texts.every((t) => t.isWellFormed() && !t.includes("\u0000"))).toBe(true);
        } else expect(decoded.reason.isWellFormed()).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
