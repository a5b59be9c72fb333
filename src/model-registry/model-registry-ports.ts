/** The ports the model registry depends on: model bytes and manifests, active pointers, the change log. */
import type { ModelManifest } from "#core/model-manifest";
import type { ModelRegistryNotice } from "#core/model-registry-message";
import type { ActivePointer } from "#core/scoring";

export interface StoredVersionInfo {
  version: string;
  uploadedAt: string;
  sizeBytes: number;
  /** Hex SHA-256 of the ONNX bytes. */
  sha256: string;
  /** Number of input features in the manifest. */
  features: number;
}

/** Model bytes and manifests per tenant (R2 in the Worker). Versions are immutable once written. */
export interface ModelStore {
  listModelNames(tenant: string): Promise<string[]>;
  listVersions(tenant: string, name: string): Promise<StoredVersionInfo[]>;
  getManifest(tenant: string, name: string, version: string): Promise<ModelManifest | undefined>;
  getModelBytes(tenant: string, name: string, version: string): Promise<ArrayBuffer | undefined>;
  hasVersion(tenant: string, name: string, version: string): Promise<boolean>;
  /** Writes a new version; "exists" (and writes nothing) when the version is already there. */
  putVersion(
    tenant: string,
    name: string,
    version: string,
    content: { modelBytes: ArrayBuffer; manifest: ModelManifest; info: StoredVersionInfo },
  ): Promise<"created" | "exists">;
}

/** The active-version pointer of each (tenant, model) (Upstash Redis in the Worker). */
export interface ModelPointerStore {
  get(tenant: string, name: string): Promise<ActivePointer | undefined>;
  set(tenant: string, name: string, pointer: ActivePointer): Promise<void>;
}

/**
 * Where model uploads and promotions are announced, so the stream processor's registry
 * (Postgres `model_versions`) follows them: the ingest queue → Kafka `models` in the Worker.
 */
export interface ModelChangeLog {
  /** Durably queues the notices, in order, or throws. */
  record(notices: readonly ModelRegistryNotice[]): Promise<void>;
}
