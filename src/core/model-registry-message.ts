/** The model registry on Kafka (schema v1): what the Worker announces when a version is uploaded or promoted. */
import { z } from "zod";
import { type ModelManifest, modelManifestSchema } from "./model-manifest.ts";
import { ChallengerSchema } from "./scoring/active-pointer.ts";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "./scoring/names.ts";

// Two shapes travel:
// * the notice, which the Worker's request handlers put on the ingest queue: small, because a
//   Cloudflare Queue message holds at most 128 KB and a manifest with its drift reference can
//   be larger;
// * the record, which the queue consumer produces to the `models` topic: an `uploaded` notice
//   expanded with the manifest read from the model store, or a `promoted` notice as it is.
// Every record of one model has the key `tenant:name`, so they share a partition and arrive in
// order. The queue may still reorder notices before Kafka, so promotions carry `promotedAt` and
// a consumer applies a promotion only when it is not older than the one it holds.

/**
 * Largest JSON value of one registry record, UTF-8 bytes: under Kafka's default 1 MiB per record
 * batch (`message.max.bytes`) and the REST gateway's 1 MiB request body, with room for the
 * key, headers and the produce request around it.
 */
export const MAX_REGISTRY_RECORD_BYTES = 900_000;

const identifier = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits");

const common = {
  schemaVersion: z.literal(1),
  kind: z.literal("model-version"),
  tenant: identifier,
  /** The model name. */
  name: identifier,
  /** Uploaded: the version stored. Promoted: the new champion. */
  version: identifier,
};

export const modelUploadedNoticeSchema = z.object({ ...common, action: z.literal("uploaded") });

/** The active pointer as of a promotion; mirrors ActivePointer with `promotedAt` required. */
export const registryActiveSchema = z
  .object({
    champion: identifier,
    challenger: ChallengerSchema.optional(),
    promotedAt: z.iso.datetime({ offset: true }),
  })
  .refine((a) => a.challenger?.version !== a.champion, {
    path: ["challenger", "version"],
    message: "must differ from the champion version",
  });

export const modelPromotedSchema = z
  .object({ ...common, action: z.literal("promoted"), active: registryActiveSchema })
  .refine((p) => p.version === p.active.champion, {
    path: ["version"],
    message: "must equal active.champion",
  });

/** What the request handlers queue (topic `models`). */
export const modelRegistryNoticeSchema = z.discriminatedUnion("action", [
  modelUploadedNoticeSchema,
  modelPromotedSchema,
]);

/** How a manifest was cut to fit MAX_REGISTRY_RECORD_BYTES (absent: sent whole). */
export const registryTrimSchema = z.object({
  /** Every reference `sample` keeps the values at indexes 0, k, 2k, … (k = sampleStride). */
  sampleStride: z.int().min(2).optional(),
  /** The whole drift reference was left out (drift is then not monitored for the version). */
  referenceDropped: z.literal(true).optional(),
  /** Size of the record with the whole manifest, bytes. */
  originalBytes: z.int().positive(),
});

export const modelUploadedRecordSchema = modelUploadedNoticeSchema.extend({
  /** When the version was stored, ISO 8601. */
  uploadedAt: z.iso.datetime({ offset: true }),
  /** Size of the ONNX bytes. */
  sizeBytes: z.int().positive(),
  /** Hex SHA-256 of the ONNX bytes. */
  sha256: sha256Hex,
  /** The manifest as stored, drift reference included (unless `trimmed` says otherwise). */
  manifest: modelManifestSchema,
  trimmed: registryTrimSchema.optional(),
});

/** The value of a record on the `models` topic. */
export const modelRegistryRecordSchema = z.discriminatedUnion("action", [
  modelUploadedRecordSchema,
  modelPromotedSchema,
]);

export type ModelRegistryNotice = z.infer<typeof modelRegistryNoticeSchema>;
export type ModelUploadedNotice = z.infer<typeof modelUploadedNoticeSchema>;
export type ModelPromoted = z.infer<typeof modelPromotedSchema>;
export type ModelUploadedRecord = z.infer<typeof modelUploadedRecordSchema>;
export type ModelRegistryRecord = z.infer<typeof modelRegistryRecordSchema>;
export type RegistryTrim = z.infer<typeof registryTrimSchema>;

/** Kafka key of every registry record of a model: one partition per model keeps them in order. */
export function modelRegistryKey(tenant: string, name: string): string {
  return `${tenant}:${name}`;
}

export function uploadedNotice(tenant: string, name: string, version: string): ModelUploadedNotice {
  return { schemaVersion: 1, kind: "model-version", action: "uploaded", tenant, name, version };
}

export function promotedNotice(
  tenant: string,
  name: string,
  active: ModelPromoted["active"],
): ModelPromoted {
  const copy: ModelPromoted["active"] = {
    champion: active.champion,
    promotedAt: active.promotedAt,
  };
  if (active.challenger) copy.challenger = { ...active.challenger };
  return {
    schemaVersion: 1,
    kind: "model-version",
    action: "promoted",
    tenant,
    name,
    version: active.champion,
    active: copy,
  };
}

export type BuiltUploadedRecord =
  | { ok: true; record: ModelUploadedRecord; bytes: number }
  | { ok: false; reason: string };

const encoder = new TextEncoder();
const jsonBytes = (value: unknown) => encoder.encode(JSON.stringify(value)).byteLength;

/**
 * The record of an uploaded version with its manifest, cut to fit `maxBytes` when needed: first
 * the reference samples (KS) are thinned to every k-th value, the smallest k that fits (bins and
 * proportions for PSI stay whole); when even the manifest without any samples is too large, the
 * reference is left out. `ok: false` when the manifest without its reference does not fit.
 */
export function buildUploadedRecord(
  notice: ModelUploadedNotice,
  stored: { manifest: ModelManifest; uploadedAt: string; sizeBytes: number; sha256: string },
  maxBytes = MAX_REGISTRY_RECORD_BYTES,
): BuiltUploadedRecord {
  const base = {
    ...notice,
    uploadedAt: stored.uploadedAt,
    sizeBytes: stored.sizeBytes,
    sha256: stored.sha256,
  };
  const whole: ModelUploadedRecord = { ...base, manifest: stored.manifest };
  const originalBytes = jsonBytes(whole);
  if (originalBytes <= maxBytes) return { ok: true, record: whole, bytes: originalBytes };

  const reference = stored.manifest.reference;
  const longest = reference === undefined ? 0 : longestSample(reference);
  if (reference !== undefined && longest > 1) {
    const attempt = (stride: number) => {
      const record: ModelUploadedRecord = {
        ...base,
        manifest: { ...stored.manifest, reference: thinSamples(reference, stride) },
        trimmed: { sampleStride: stride, originalBytes },
      };
      return { record, bytes: jsonBytes(record) };
    };
    // The record shrinks as the stride grows (fewer values); binary search for the smallest
    // stride that fits, from 2 to `longest` (one value left per sample).
    let best = attempt(longest);
    if (best.bytes <= maxBytes) {
      let lo = 2;
      let hi = longest;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const tried = attempt(mid);
        if (tried.bytes <= maxBytes) {
          hi = mid;
          best = tried;
        } else lo = mid + 1;
      }
      // `best` is the last attempt that fitted, i.e. the one at `hi`.
      return { ok: true, ...best };
    }
  }

  if (reference !== undefined) {
    const { reference: _dropped, ...withoutReference } = stored.manifest;
    const record: ModelUploadedRecord = {
      ...base,
      manifest: withoutReference,
      trimmed: { referenceDropped: true, originalBytes },
    };
    const bytes = jsonBytes(record);
    if (bytes <= maxBytes) return { ok: true, record, bytes };
  }
  return {
    ok: false,
    reason: `the manifest of ${notice.name} version ${notice.version} is too large for a Kafka record even without its drift reference (${originalBytes} bytes with it; at most ${maxBytes})`,
  };
}

type Reference = NonNullable<ModelManifest["reference"]>;

function longestSample(reference: Reference): number {
  let longest = reference.score?.sample?.length ?? 0;
  for (const entry of Object.values(reference.features)) {
    if (entry.type === "number") longest = Math.max(longest, entry.sample?.length ?? 0);
  }
  return longest;
}

function thinSamples(reference: Reference, stride: number): Reference {
  const thin = (sample: number[]) => sample.filter((_, i) => i % stride === 0);
  const features: Reference["features"] = {};
  for (const [name, entry] of Object.entries(reference.features)) {
    features[name] =
      entry.type === "number" && entry.sample !== undefined
        ? { ...entry, sample: thin(entry.sample) }
        : entry;
  }
  const thinned: Reference = { ...reference, features };
  if (reference.score?.sample !== undefined) {
    thinned.score = { ...reference.score, sample: thin(reference.score.sample) };
  }
  return thinned;
}
