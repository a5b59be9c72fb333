/** In-memory fakes of the Worker's ports, for route tests that run in Node without services. */
import { type ApiKeyRecord, generateApiKey, type Role } from "#core/api-keys";
import type { AuditEntryInput } from "#core/audit";
import type { ModelManifest } from "#core/model-manifest";
import type { ParkedBundleBucket } from "#core/privacy";
import type { ActivePointer, PredictionRecord } from "#core/scoring";
import { InMemoryAuthFailureLimiter } from "../../src/auth/auth-failure-limiter";
import type {
  ApiKeyStore,
  RateLimitDecision,
  RateLimiter,
  RateLimitPolicy,
} from "../../src/auth/auth-ports";
import { type BundledModel, ModelRegistry } from "../../src/model-registry/model-registry";
import type {
  ModelPointerStore,
  ModelStore,
  StoredVersionInfo,
} from "../../src/model-registry/model-registry-ports";
import { createLogger } from "../../src/observability/logger";
import { explainableModel } from "../../src/scoring/explainable-model";
import { HmacEntityIdKeyer } from "../../src/scoring/hmac-entity-id-keyer";
import type {
  LoadedModel,
  ModelCheck,
  ModelRuntime,
  PredictionLog,
  RuntimeModel,
} from "../../src/scoring/scoring-ports";
import type { Services } from "../../src/services";

export class FakeApiKeyStore implements ApiKeyStore {
  readonly records = new Map<string, ApiKeyRecord>();
  async findByHash(keyHash: string) {
    return this.records.get(keyHash);
  }
  async create(tenant: string, roles: Role[]): Promise<string> {
    const { key, record } = await generateApiKey({ tenant, roles });
    this.records.set(record.keyHash, record);
    return key;
  }
}

/** Allows `limit` units (requests by default) per identifier, then refuses. */
export class FakeRateLimiter implements RateLimiter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly limitPerKey = Number.POSITIVE_INFINITY) {}
  async limit(
    identifier: string,
    _waitUntil?: unknown,
    units = 1,
    policy?: RateLimitPolicy,
  ): Promise<RateLimitDecision> {
    const used = (this.counts.get(identifier) ?? 0) + units;
    this.counts.set(identifier, used);
    const limit =
      policy?.limit ?? (Number.isFinite(this.limitPerKey) ? this.limitPerKey : 1_000_000);
    return {
      allowed: used <= limit,
      limit,
      remaining: Math.max(0, limit - used),
      resetAtMs: Date.now() + 30_000,
      windowSeconds: 60,
    };
  }
}

export class FakeModelStore implements ModelStore {
  readonly versions = new Map<
    string,
    { bytes: ArrayBuffer; manifest: ModelManifest; info: StoredVersionInfo }
  >();
  private key(t: string, n: string, v: string) {
    return `${t}/${n}/${v}`;
  }
  async listModelNames(tenant: string) {
    return [
      ...new Set(
        [...this.versions.keys()]
          .filter((k) => k.startsWith(`${tenant}/`))
          .map((k) => k.split("/")[1]!),
      ),
    ];
  }
  async listVersions(tenant: string, name: string) {
    return [...this.versions.entries()]
      .filter(([k]) => k.startsWith(`${tenant}/${name}/`))
      .map(([, v]) => v.info);
  }
  async getManifest(t: string, n: string, v: string) {
    return this.versions.get(this.key(t, n, v))?.manifest;
  }
  async getModelBytes(t: string, n: string, v: string) {
    return this.versions.get(this.key(t, n, v))?.bytes;
  }
  async hasVersion(t: string, n: string, v: string) {
    return this.versions.has(this.key(t, n, v));
  }
  async putVersion(
    t: string,
    n: string,
    v: string,
    content: { modelBytes: ArrayBuffer; manifest: ModelManifest; info: StoredVersionInfo },
  ) {
    if (this.versions.has(this.key(t, n, v))) return "exists" as const;
    this.versions.set(this.key(t, n, v), {
      bytes: content.modelBytes,
      manifest: content.manifest,
      info: content.info,
    });
    return "created" as const;
  }
}

export class FakePointerStore implements ModelPointerStore {
  readonly pointers = new Map<string, ActivePointer>();
  async get(tenant: string, name: string) {
    return this.pointers.get(`${tenant}/${name}`);
  }
  async set(tenant: string, name: string, pointer: ActivePointer) {
    this.pointers.set(`${tenant}/${name}`, pointer);
  }
}

/**
 * A model runtime without ONNX: the "model" bytes are UTF-8 text `weights:w0,w1,…;bias:b` and
 * the score is σ(b + Σ wᵢ·xᵢ). Bytes starting with `BAD` fail the upload check.
 */
export class FakeModelRuntime implements ModelRuntime {
  loads = 0;
  releases = 0;
  async load(bytes: ArrayBuffer, manifest: ModelManifest): Promise<LoadedModel> {
    this.loads += 1;
    const { weights, bias } = parseFakeModel(bytes);
    const runtime = this;
    const model: RuntimeModel = {
      async score(values: Float32Array, rows: number) {
        const out = new Float64Array(rows);
        const k = weights.length;
        for (let r = 0; r < rows; r++) {
          let z = bias;
          for (let j = 0; j < k; j++) z += weights[j]! * values[r * k + j]!;
          out[r] = 1 / (1 + Math.exp(-z));
        }
        return out;
      },
      async release() {
        runtime.releases += 1;
      },
    };
    // Not an ONNX graph: explained by permutation sampling over this score.
    return explainableModel(model, bytes, manifest);
  }
  async check(bytes: ArrayBuffer, manifest: ModelManifest): Promise<ModelCheck> {
    const text = new TextDecoder().decode(bytes);
    if (text.startsWith("BAD"))
      return { ok: false, problems: ["model does not load in onnxruntime: fake"] };
    const { weights } = parseFakeModel(bytes);
    if (weights.length !== manifest.features.length) {
      return {
        ok: false,
        problems: [
          `input takes ${weights.length} columns but the manifest lists ${manifest.features.length} features`,
        ],
      };
    }
    return { ok: true };
  }
}

export function fakeModelBytes(weights: number[], bias: number): ArrayBuffer {
  return new TextEncoder().encode(`weights:${weights.join(",")};bias:${bias}`)
    .buffer as ArrayBuffer;
}

function parseFakeModel(bytes: ArrayBuffer): { weights: number[]; bias: number } {
  const match = /^weights:([^;]*);bias:(.*)$/.exec(new TextDecoder().decode(bytes));
  if (!match) throw new Error("not a fake model");
  return { weights: match[1]!.split(",").map(Number), bias: Number(match[2]) };
}

export class RecordingPredictionLog implements PredictionLog {
  readonly records: PredictionRecord[] = [];
  constructor(private readonly behaviour: "ok" | "fail" | "hang" = "ok") {}
  write(records: readonly PredictionRecord[]): Promise<void> {
    if (this.behaviour === "hang") return new Promise(() => undefined);
    if (this.behaviour === "fail") return Promise.reject(new Error("queue refused"));
    this.records.push(...records);
    return Promise.resolve();
  }
}

/** A manifest with `n` numeric features `f0 … f(n−1)`, defaults 0 except for f0. */
export function fakeManifest(n: number): ModelManifest {
  return {
    input: "features",
    output: { name: "probability", index: 0 },
    features: Array.from({ length: n }, (_, i) =>
      i === 0
        ? { name: "f0", type: "number" as const }
        : { name: `f${i}`, type: "number" as const, default: 0 },
    ),
  };
}

export interface FakeWorld {
  services: Services;
  keys: FakeApiKeyStore;
  store: FakeModelStore;
  pointers: FakePointerStore;
  runtime: FakeModelRuntime;
  log: RecordingPredictionLog;
  /** Audit entries the routes appended, in order. */
  audited: AuditEntryInput[];
  /** What the erasure route asked the store to erase, per call: tenant and keyed entity ids. */
  erased: { tenant: string; entityKeys: readonly string[] }[];
}

/** The entity-id key of the fake services, for tests that recompute a keyed id. */
export const FAKE_ENTITY_ID_KEY = "fake-entity-id-key-for-tests";

export function fakeServices(
  options: {
    rateLimit?: number;
    /** Events (scored rows) per key before the events budget refuses. */
    eventBudget?: number;
    log?: RecordingPredictionLog;
    bundled?: BundledModel[];
    random?: () => number;
    /** Invalid keys a client may send per minute before it is refused unlooked. */
    authFailuresPerMinute?: number;
    /** Top reasons each logged prediction carries. */
    predictionLogReasons?: number;
    /** The DEAD_LETTERS bucket the erasure route scrubs. */
    deadLetters?: ParkedBundleBucket;
  } = {},
): FakeWorld {
  const keys = new FakeApiKeyStore();
  const store = new FakeModelStore();
  const pointers = new FakePointerStore();
  const runtime = new FakeModelRuntime();
  const log = options.log ?? new RecordingPredictionLog();
  const audited: AuditEntryInput[] = [];
  const erased: FakeWorld["erased"] = [];
  const services = {
    // The erasure statement itself is tested against Postgres (test/privacy); here, what reaches it.
    erasures: {
      deadLetters: options.deadLetters,
      open: () => ({
        erase: async (tenant: string, entityKeys: readonly string[]) => {
          erased.push({ tenant, entityKeys });
          return { predictions: entityKeys.length, click_id_predictions: 0, conversion_keys: 0 };
        },
        close: async () => undefined,
      }),
    },
    // Route tests check which entries are appended; the append-only table is tested in workerd.
    audit: {
      open: () => ({
        append: async (entry: AuditEntryInput) => {
          audited.push(entry);
          return { id: String(audited.length), recordedAtMs: 0 };
        },
        list: async () => [],
        close: async () => undefined,
      }),
    },
    readiness: { check: async () => ({}) },
    apiKeys: keys,
    entityIds: new HmacEntityIdKeyer(FAKE_ENTITY_ID_KEY),
    authFailures: new InMemoryAuthFailureLimiter({
      maxFailures: options.authFailuresPerMinute ?? 1000,
    }),
    rateLimiter: new FakeRateLimiter(options.rateLimit),
    requestLimits: {
      requests: options.rateLimit ?? 1_000_000,
      ingestRequests: options.rateLimit ?? 1_000_000,
      windowSeconds: 60,
    },
    log: createLogger("error"),
    budgets: {
      events: new FakeRateLimiter(options.eventBudget),
      bytes: new FakeRateLimiter(),
    },
    tenantOrigins: { allowedOrigins: async () => [] },
    models: new ModelRegistry({
      store,
      pointers,
      runtime,
      bundled: options.bundled ?? [],
      maxLoadedVersions: 4,
      maxModelBytes: 1024,
    }),
    predictionLog: log,
    predictionLogReasons: options.predictionLogReasons ?? 0,
    now: () => new Date("2026-11-22T12:00:00.000Z"),
    random: options.random ?? Math.random,
    // The event routes' services are not exercised by these fakes.
  } as unknown as Services;
  return { services, keys, store, pointers, runtime, log, audited, erased };
}

/** An ExecutionContext that keeps what the handler scheduled with waitUntil. */
export function recordingContext(): { ctx: ExecutionContext; pending: Promise<unknown>[] } {
  const pending: Promise<unknown>[] = [];
  const ctx = {
    waitUntil: (p: Promise<unknown>) => pending.push(p),
    passThroughOnException: () => undefined,
    props: {},
  } as unknown as ExecutionContext;
  return { ctx, pending };
}
