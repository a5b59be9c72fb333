/** A tenant's models: versions in the store, the bundled defaults, active pointers, loaded sessions. */
import {
  ConflictError,
  DependencyUnavailableError,
  DriftlineError,
  type FieldIssue,
  NotFoundError,
  ValidationError,
} from "#core/errors";
import type { ExplainOutcome } from "#core/explain";
import { type ModelManifest, validateModelManifest } from "#core/model-manifest";
import {
  type ModelRegistryNotice,
  promotedNotice,
  uploadedNotice,
} from "#core/model-registry-message";
import { type ActivePointer, ActivePointerSchema } from "#core/scoring";
import type { LoadedModel, ModelRuntime } from "../scoring/scoring-ports";
import type {
  ModelChangeLog,
  ModelPointerStore,
  ModelStore,
  StoredVersionInfo,
} from "./model-registry-ports";

/** A model shipped inside the Worker bundle; it serves every tenant that has no pointer for it. */
export interface BundledModel {
  name: string;
  version: string;
  manifest: ModelManifest;
  bytes: ArrayBuffer;
}

export type VersionSource = "tenant" | "bundled";

/** A version ready to score. */
export interface ServingVersion {
  name: string;
  version: string;
  source: VersionSource;
  manifest: ModelManifest;
  score(values: Float32Array, rows: number): Promise<Float64Array>;
  explain(values: Float32Array, rows: number): Promise<ExplainOutcome>;
  /** The explanation method of this version, or why it has none. */
  explanation: LoadedModel["explanation"];
}

export interface VersionSummary extends StoredVersionInfo {
  source: VersionSource;
}

export interface ActiveState {
  pointer: ActivePointer;
  /** True when no version was promoted and the bundled default serves. */
  isDefault: boolean;
}

export interface ModelSummary {
  name: string;
  active: ActiveState | null;
}

export interface ModelDetail {
  name: string;
  versions: VersionSummary[];
  active: ActiveState | null;
}

export interface ModelRegistryOptions {
  store: ModelStore;
  pointers: ModelPointerStore;
  runtime: ModelRuntime;
  bundled: readonly BundledModel[];
  /** Loaded versions kept per isolate; the least recently used is released beyond this. */
  maxLoadedVersions: number;
  /**
   * Bytes of ONNX kept loaded per isolate (a session holds about its model's weights), the
   * least recently used released beyond this. Default: no limit besides the count.
   */
  maxLoadedBytes?: number;
  maxModelBytes: number;
  /**
   * Where uploads and promotions are announced for monitoring (the ingest queue in the Worker);
   * without one nothing is announced.
   */
  changes?: ModelChangeLog;
}

interface LoadedVersion {
  manifest: ModelManifest;
  model: LoadedModel;
  source: VersionSource;
  /** What the entry counts against `maxLoadedBytes`: the ONNX bytes; 0 for shared bundled sessions. */
  sizeBytes: number;
}

interface CacheEntry {
  tenant: string;
  version: LoadedVersion;
  /** Scores in flight; a version evicted from the cache is released when this reaches 0. */
  active: number;
  evicted: boolean;
}

const compareVersions = (a: string, b: string) =>
  a.localeCompare(b, "en", { numeric: true, sensitivity: "base" });

export class ModelRegistry {
  /** Loaded versions only, in least-recently-used order (Map order). */
  private readonly loaded = new Map<string, CacheEntry>();
  /**
   * Loads in flight, kept apart from the cache: a version takes a cache slot only once it has
   * loaded, so requests for versions that do not exist (or fail to load) evict nothing.
   */
  private readonly loading = new Map<string, Promise<LoadedVersion>>();
  private loadedBytes = 0;
  /**
   * One session per bundled model for the whole isolate, shared by every tenant that falls back
   * to it; never released (there are few, and they serve the most tenants).
   */
  private readonly bundledSessions = new Map<BundledModel, Promise<LoadedModel>>();

  constructor(private readonly options: ModelRegistryOptions) {}

  get maxModelBytes(): number {
    return this.options.maxModelBytes;
  }

  private bundledVersion(name: string, version: string): BundledModel | undefined {
    return this.options.bundled.find((b) => b.name === name && b.version === version);
  }

  private bundledDefault(name: string): BundledModel | undefined {
    return this.options.bundled.find((b) => b.name === name);
  }

  /** The pointer that routes traffic for (tenant, name); the bundled default when none was set. */
  async active(tenant: string, name: string): Promise<ActiveState | null> {
    const pointer = await this.options.pointers.get(tenant, name);
    if (pointer) return { pointer, isDefault: false };
    const bundled = this.bundledDefault(name);
    return bundled ? { pointer: { champion: bundled.version }, isDefault: true } : null;
  }

  /** Like `active`, but a model without any active version is a 404 telling what to do. */
  async requireActive(tenant: string, name: string): Promise<ActivePointer> {
    const state = await this.active(tenant, name);
    if (state) return state.pointer;
    throw new NotFoundError(
      `Model "${name}" has no active version. Upload one with PUT /v1/models/${name}/versions/{version} and promote it with POST /v1/models/${name}/promote.`,
      { context: { model: name } },
    );
  }

  /** A version of the tenant's model (its own upload, else a bundled one), loaded and cached. */
  async serving(tenant: string, name: string, version: string): Promise<ServingVersion> {
    const key = `${tenant}\u0000${name}\u0000${version}`;
    let entry = this.loaded.get(key);
    if (entry) {
      // Map order is the LRU order: move the hit to the end.
      this.loaded.delete(key);
      this.loaded.set(key, entry);
    } else {
      let pending = this.loading.get(key);
      if (pending === undefined) {
        pending = this.load(tenant, name, version);
        this.loading.set(key, pending);
        // A failed load (missing version, store down) is not cached; the next request retries.
        const settle = () => this.loading.delete(key);
        pending.then(settle, settle);
      }
      const loaded = await pending;
      // Concurrent requests for one version share its load; the first to resume caches it.
      entry = this.loaded.get(key);
      if (entry === undefined) {
        entry = { tenant, version: loaded, active: 0, evicted: false };
        this.loaded.set(key, entry);
        this.loadedBytes += loaded.sizeBytes;
        this.evictBeyondLimits(key);
      }
    }
    const held = entry;
    const { manifest, model, source } = entry.version;
    const releasable = source === "tenant";
    // A version evicted while rows are in flight is released when the last of them is done.
    const hold = async <T>(work: () => Promise<T>): Promise<T> => {
      held.active += 1;
      try {
        return await work();
      } finally {
        held.active -= 1;
        if (releasable && held.evicted && held.active === 0) await model.release();
      }
    };
    return {
      name,
      version,
      source,
      manifest,
      explanation: model.explanation,
      score: (values, rows) => hold(() => model.score(values, rows)),
      explain: (values, rows) => hold(() => model.explain(values, rows)),
    };
  }

  private async load(tenant: string, name: string, version: string): Promise<LoadedVersion> {
    const { store, runtime } = this.options;
    const manifest = await store.getManifest(tenant, name, version);
    if (manifest) {
      const bytes = await store.getModelBytes(tenant, name, version);
      if (!bytes) {
        throw new NotFoundError(
          `Model "${name}" version "${version}" is still being uploaded; try again shortly.`,
          { context: { model: name, version } },
        );
      }
      const model = await runtime.load(bytes, manifest);
      return { manifest, model, source: "tenant", sizeBytes: bytes.byteLength };
    }
    const bundled = this.bundledVersion(name, version);
    if (bundled) {
      let session = this.bundledSessions.get(bundled);
      if (!session) {
        session = runtime.load(bundled.bytes, bundled.manifest);
        this.bundledSessions.set(bundled, session);
        session.catch(() => this.bundledSessions.delete(bundled));
      }
      return { manifest: bundled.manifest, model: await session, source: "bundled", sizeBytes: 0 };
    }
    throw new NotFoundError(`Model "${name}" has no version "${version}".`, {
      context: { model: name, version },
    });
  }

  /**
   * Releases least recently used versions while the cache holds more than `maxLoadedVersions`
   * or `maxLoadedBytes`, never the one just added (`keep`). A tenant holding more than half of
   * either budget gives up its own versions first, so one tenant cycling through many versions
   * cannot push every other tenant's sessions out of the isolate.
   */
  private evictBeyondLimits(keep: string): void {
    const maxCount = this.options.maxLoadedVersions;
    const maxBytes = this.options.maxLoadedBytes ?? Number.POSITIVE_INFINITY;
    const tenant = this.loaded.get(keep)?.tenant;
    while (this.loaded.size > maxCount || this.loadedBytes > maxBytes) {
      let held = 0;
      let heldBytes = 0;
      for (const entry of this.loaded.values()) {
        if (entry.tenant !== tenant) continue;
        held += 1;
        heldBytes += entry.version.sizeBytes;
      }
      const overShare = held > Math.ceil(maxCount / 2) || heldBytes > maxBytes / 2;
      const entries = [...this.loaded].filter(([key]) => key !== keep);
      const victim =
        (overShare ? entries.find(([, entry]) => entry.tenant === tenant) : undefined) ??
        entries[0];
      if (victim === undefined) return;
      const [victimKey, evicted] = victim;
      this.loaded.delete(victimKey);
      this.loadedBytes -= evicted.version.sizeBytes;
      evicted.evicted = true;
      if (evicted.version.source === "tenant" && evicted.active === 0) {
        void evicted.version.model.release();
      }
    }
  }

  async listModels(tenant: string): Promise<ModelSummary[]> {
    const names = new Set(await this.options.store.listModelNames(tenant));
    for (const b of this.options.bundled) names.add(b.name);
    const sorted = [...names].sort(compareVersions);
    return Promise.all(
      sorted.map(async (name) => ({ name, active: await this.active(tenant, name) })),
    );
  }

  async describeModel(tenant: string, name: string): Promise<ModelDetail> {
    const [stored, active] = await Promise.all([
      this.options.store.listVersions(tenant, name),
      this.active(tenant, name),
    ]);
    const versions: VersionSummary[] = stored.map((info) => ({ ...info, source: "tenant" }));
    for (const b of this.options.bundled) {
      if (b.name === name) versions.push({ ...(await bundledInfo(b)), source: "bundled" });
    }
    if (versions.length === 0) {
      throw new NotFoundError(
        `Model "${name}" does not exist for this tenant. Upload a version with PUT /v1/models/${name}/versions/{version}.`,
        { context: { model: name } },
      );
    }
    versions.sort((a, b) => compareVersions(a.version, b.version));
    return { name, versions, active };
  }

  async versionExists(tenant: string, name: string, version: string): Promise<boolean> {
    return (
      this.bundledVersion(name, version) !== undefined ||
      (await this.options.store.hasVersion(tenant, name, version))
    );
  }

  /**
   * Validates and stores a new version. The path's name and version win over any `name` or
   * `version` inside the manifest, so one manifest can be uploaded under several names.
   */
  async upload(input: {
    tenant: string;
    name: string;
    version: string;
    modelBytes: ArrayBuffer;
    manifest: unknown;
    now: Date;
    /**
     * Runs once every check has passed, just before the version is stored (the audit entry); if
     * it throws, nothing is stored.
     */
    beforeStore?: (info: StoredVersionInfo) => Promise<void>;
  }): Promise<VersionSummary> {
    const { tenant, name, version, modelBytes } = input;
    if (this.bundledVersion(name, version)) {
      throw new ConflictError(
        `Model "${name}" version "${version}" is the bundled default and cannot be replaced; upload another version and promote it.`,
        { context: { model: name, version } },
      );
    }
    const validated = validateModelManifest(input.manifest);
    if (!validated.ok) {
      throw new ValidationError(
        `The manifest is invalid: ${summarise(validated.issues)}`,
        validated.issues.map((i) => ({ field: `manifest.${i.field}`, message: i.message })),
      );
    }
    if (modelBytes.byteLength === 0) {
      throw new ValidationError("The model part is empty; send the .onnx file as `model`.", [
        { field: "model", message: "is empty" },
      ]);
    }
    if (modelBytes.byteLength > this.options.maxModelBytes) {
      throw new DriftlineError(
        "PAYLOAD_TOO_LARGE",
        `The model is ${modelBytes.byteLength} bytes; the limit is ${this.options.maxModelBytes} bytes (MODEL_UPLOAD_MAX_BYTES).`,
      );
    }
    if (await this.options.store.hasVersion(tenant, name, version))
      throw versionExists(name, version);

    const manifest: ModelManifest = { ...validated.manifest, name, version };
    const check = await this.options.runtime.check(modelBytes, manifest);
    if (!check.ok) {
      throw new ValidationError(
        `The model failed the upload check: ${check.problems.join("; ")}`,
        check.problems.map((message) => ({ field: "model", message })),
      );
    }
    const info: StoredVersionInfo = {
      version,
      uploadedAt: input.now.toISOString(),
      sizeBytes: modelBytes.byteLength,
      sha256: await sha256Hex(modelBytes),
      features: manifest.features.length,
    };
    await input.beforeStore?.(info);
    const outcome = await this.options.store.putVersion(tenant, name, version, {
      modelBytes,
      manifest,
      info,
    });
    if (outcome === "exists") throw versionExists(name, version);
    await this.announce(
      [uploadedNotice(tenant, name, version)],
      `Model "${name}" version "${version}" is stored, but announcing it to monitoring failed, so drift will not be computed against its reference until it is announced: promote it (POST /v1/models/${name}/promote announces the versions it routes to) or upload it again as a new version.`,
    );
    return { ...info, source: "tenant" };
  }

  /** Makes `pointer.champion` (and an optional challenger) serve; every version must exist. */
  async promote(
    tenant: string,
    name: string,
    input: Omit<ActivePointer, "promotedAt">,
    now: Date,
    /**
     * Runs once the versions are known to exist, just before the pointer changes, with the
     * pointer in effect so far (the audit entry); if it throws, nothing changes.
     */
    beforeChange?: (change: { before: ActiveState | null; after: ActivePointer }) => Promise<void>,
  ): Promise<ActivePointer> {
    const parsed = ActivePointerSchema.safeParse({ ...input, promotedAt: now.toISOString() });
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        field:
          i.path
            .map(String)
            .join(".")
            .replace(/^champion/, "version") || "(body)",
        message: i.message,
      }));
      throw new ValidationError(`Invalid promotion: ${summarise(issues)}`, issues);
    }
    const pointer = parsed.data;
    const wanted = [pointer.champion, ...(pointer.challenger ? [pointer.challenger.version] : [])];
    const exists = await Promise.all(wanted.map((v) => this.versionExists(tenant, name, v)));
    const missing = wanted.filter((_, i) => !exists[i]);
    if (missing.length > 0) {
      throw new NotFoundError(
        `Model "${name}" has no version ${missing.map((v) => `"${v}"`).join(" or ")}; upload it first.`,
        { context: { model: name, versions: missing } },
      );
    }
    if (beforeChange)
      await beforeChange({ before: await this.active(tenant, name), after: pointer });
    await this.options.pointers.set(tenant, name, pointer);
    // The versions the pointer routes to are announced again with it (cheap, idempotent for the
    // registry), so a version whose upload notice was lost, or that was uploaded before the
    // registry existed, is registered once it serves. Bundled versions have no stored manifest.
    const notices: ModelRegistryNotice[] = wanted
      .filter((v) => this.bundledVersion(name, v) === undefined)
      .map((v) => uploadedNotice(tenant, name, v));
    notices.push(
      promotedNotice(tenant, name, {
        champion: pointer.champion,
        ...(pointer.challenger ? { challenger: pointer.challenger } : {}),
        promotedAt: pointer.promotedAt ?? now.toISOString(),
      }),
    );
    await this.announce(
      notices,
      `The promotion of model "${name}" is in effect, but announcing it to monitoring failed; send the same promotion again to announce it.`,
    );
    return pointer;
  }

  /** Queues registry notices; a failure is a 503 that says what did happen and what to do. */
  private async announce(notices: ModelRegistryNotice[], whenFailed: string): Promise<void> {
    const changes = this.options.changes;
    if (changes === undefined) return;
    try {
      await changes.record(notices);
    } catch (err) {
      throw new DependencyUnavailableError(whenFailed, {
        cause: err,
        context: { model: notices[0]?.name },
      });
    }
  }
}

const bundledInfos = new WeakMap<BundledModel, Promise<StoredVersionInfo>>();

function bundledInfo(model: BundledModel): Promise<StoredVersionInfo> {
  let info = bundledInfos.get(model);
  if (!info) {
    info = sha256Hex(model.bytes).then((sha256) => ({
      version: model.version,
      uploadedAt: model.manifest.trainedAt ?? new Date(0).toISOString(),
      sizeBytes: model.bytes.byteLength,
      sha256,
      features: model.manifest.features.length,
    }));
    bundledInfos.set(model, info);
  }
  return info;
}

function versionExists(name: string, version: string): ConflictError {
  return new ConflictError(
    `Model "${name}" version "${version}" already exists; versions are immutable, upload a new version.`,
    { context: { model: name, version } },
  );
}

function summarise(issues: readonly FieldIssue[]): string {
  const head = issues
    .slice(0, 3)
    .map((i) => `${i.field} ${i.message}`)
    .join("; ");
  return issues.length > 3 ? `${head} (and ${issues.length - 3} more)` : head;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const b of digest) hex += HEX[b];
  return hex;
}
