/** The ports the HTTP routes and the queue consumer depend on; adapters implement them. */
import type { ApiKeyRecord } from "./auth/api-key";
import type { ModelManifest } from "./core/model-manifest";
import type { ModelRegistryNotice } from "./core/model-registry-message";
import type { ActivePointer } from "./core/scoring/active-pointer";
import type { PredictionRecord } from "./core/scoring/prediction-record";
import type { IngestServices } from "./ingest/ingest-ports";
import type { ModelRegistry } from "./models/model-registry";

export interface DependencyCheck {
  ok: boolean;
  latencyMs?: number;
  message?: string;
}

export interface Readiness {
  /** One entry per dependency; never throws. */
  check(): Promise<Record<string, DependencyCheck>>;
}

/** Schedules work that may finish after the response (`ctx.waitUntil` in workerd). */
export type WaitUntil = (promise: Promise<unknown>) => void;

/** API key records by the hex SHA-256 of the key. */
export interface ApiKeyStore {
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Units (requests, events or bytes) allowed per window. */
  limit: number;
  remaining: number;
  /** Epoch ms at which the window has room again. */
  resetAtMs: number;
  windowSeconds: number;
}

export interface RateLimiter {
  /**
   * Counts `units` (default 1: one request) for `identifier` (an API key id) and says whether the
   * request may pass.
   */
  limit(identifier: string, waitUntil: WaitUntil, units?: number): Promise<RateLimitDecision>;
}

/** What a key may spend per window besides requests; each budget is its own sliding window. */
export interface UsageBudgets {
  /** Events sent (every event of a request, valid or not) and rows scored. */
  events: RateLimiter;
  /** Bytes of event request bodies. */
  bytes: RateLimiter;
}

/** Origins allowed to call a tenant's browser-facing routes (CORS). */
export interface TenantOriginStore {
  allowedOrigins(tenant: string): Promise<readonly string[]>;
}

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

/** One loaded model, ready to score float rows. */
export interface LoadedModel {
  /** Scores `rows` rows of `values` (row-major `[rows, columns]`); one score per row. */
  score(values: Float32Array, rows: number): Promise<Float64Array>;
  /** Frees the runtime's resources; the model is unusable afterwards. */
  release(): Promise<void>;
}

export type ModelCheck = { ok: true } | { ok: false; problems: string[] };

/** Turns model bytes into something that scores (onnxruntime-web in the Worker). */
export interface ModelRuntime {
  load(bytes: ArrayBuffer, manifest: ModelManifest): Promise<LoadedModel>;
  /** Loads the bytes and checks tensor names, types and shapes against the manifest. */
  check(bytes: ArrayBuffer, manifest: ModelManifest): Promise<ModelCheck>;
}

/** Where scored rows go for monitoring (the ingest queue → Kafka `predictions`). */
export interface PredictionLog {
  write(records: readonly PredictionRecord[]): Promise<void>;
}

export interface Services {
  readiness: Readiness;
  apiKeys: ApiKeyStore;
  rateLimiter: RateLimiter;
  budgets: UsageBudgets;
  tenantOrigins: TenantOriginStore;
  models: ModelRegistry;
  predictionLog: PredictionLog;
  /** Event ingestion: dedup store, queue sink and limits (POST /v1/events, /v1/capi/…). */
  ingest: IngestServices;
  /** Current time; injected so tests can fix it. */
  now(): Date;
  /** Uniform [0, 1) for challenger routing of rows without an entity id. */
  random(): number;
}
