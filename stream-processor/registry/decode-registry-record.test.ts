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
    ["U+0000 anywhere", value({ ...promoted, note: "a\u0000b" }), /U\+0000/],
  ])("refuses %s, saying why", (_what, raw, reason) => {
    const decoded = decodeRegistryRecord(raw);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(reason);
  });
});
