/** Turns a queued model registry notice into its Kafka record: an upload gets its manifest from the model store. */
import type { ModelManifest } from "#core/model-manifest";
import {
  buildUploadedRecord,
  MAX_REGISTRY_RECORD_BYTES,
  modelRegistryNoticeSchema,
} from "#core/model-registry-message";
import type { StoredVersionInfo } from "../model-registry/model-registry-ports";
import type { RecordExpander } from "./queue-ports";

/** Reads one stored version (R2 in the Worker). */
export interface ModelVersionReader {
  getVersion(
    tenant: string,
    name: string,
    version: string,
  ): Promise<{ manifest: ModelManifest; info: StoredVersionInfo } | undefined>;
}

export interface ModelNoticeExpanderOptions {
  reader: ModelVersionReader;
  /** Largest record value, bytes; larger manifests are trimmed (see buildUploadedRecord). */
  maxRecordBytes?: number;
  log?: (entry: Record<string, unknown>) => void;
}

/**
 * A store read that throws (R2 unavailable) propagates, so the message is redelivered. A version
 * the store does not have can never be expanded: the notice is dropped (versions are never
 * deleted, so this means a notice for something that was not stored).
 */
export function expandModelNotice(options: ModelNoticeExpanderOptions): RecordExpander {
  const maxBytes = options.maxRecordBytes ?? MAX_REGISTRY_RECORD_BYTES;
  return async (message) => {
    const parsed = modelRegistryNoticeSchema.safeParse(message.value);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      return {
        kind: "drop",
        reason: `not a model registry notice v1 (${first?.path.join(".") || "(value)"}: ${first?.message})`,
      };
    }
    const notice = parsed.data;
    const headers = message.headers;
    if (notice.action === "promoted") {
      return { kind: "record", record: { key: message.key, value: notice, headers } };
    }
    const stored = await options.reader.getVersion(notice.tenant, notice.name, notice.version);
    if (stored === undefined) {
      return {
        kind: "drop",
        reason: `model ${notice.name} version ${notice.version} of tenant ${notice.tenant} is not in the model store`,
      };
    }
    const built = buildUploadedRecord(
      notice,
      {
        manifest: stored.manifest,
        uploadedAt: stored.info.uploadedAt,
        sizeBytes: stored.info.sizeBytes,
        sha256: stored.info.sha256,
      },
      maxBytes,
    );
    if (!built.ok) return { kind: "fail", retryable: false, reason: built.reason };
    if (built.record.trimmed !== undefined) {
      options.log?.({
        level: "warn",
        msg: "model manifest trimmed to fit a Kafka record",
        tenant: notice.tenant,
        model: notice.name,
        version: notice.version,
        bytes: built.bytes,
        ...built.record.trimmed,
      });
    }
    return { kind: "record", record: { key: message.key, value: built.record, headers } };
  };
}
