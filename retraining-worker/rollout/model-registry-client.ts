/**
 * The model registry as the retraining worker reaches it: the edge Worker's admin API, the same
 * path as an operator's upload and promotion (R2 for the bytes, Upstash for the active pointer,
 * Kafka `model-registry` for monitoring). The worker acts for a tenant with an admin key it mints
 * for itself in Upstash (stored hashed, like every key) and that expires on its own.
 */
import { Redis } from "@upstash/redis";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import { DependencyUnavailableError, DriftlineError } from "#core/errors";

export interface RegistryPointer {
  champion: string;
  challenger?: { version: string; share: number };
}

export interface RegisteredVersion {
  version: string;
  sha256: string;
}

/** The registry port the job steps use (the Worker's admin API; a test may pass another). */
export interface ModelRegistryClient {
  /** The model's versions and its active pointer; undefined when the tenant has no such model. */
  describe(
    tenant: string,
    model: string,
  ): Promise<{ versions: RegisteredVersion[]; pointer: RegistryPointer | null } | undefined>;
  /** Uploads a version; "exists" when that version is already stored (with its sha256). */
  upload(
    tenant: string,
    model: string,
    version: string,
    onnx: Uint8Array,
    manifest: Record<string, unknown>,
  ): Promise<{ outcome: "created" | "exists" }>;
  promote(tenant: string, model: string, pointer: RegistryPointer): Promise<void>;
}

/** Keys live this long in Redis; one is used for at most half of it, then replaced. */
const KEY_TTL_S = 3600;

export class WorkerModelRegistryClient implements ModelRegistryClient {
  private readonly redis: Redis;
  private readonly keys = new Map<string, { key: string; mintedAtMs: number }>();

  constructor(
    private readonly workerUrl: string,
    upstash: { url: string; token: string },
  ) {
    this.redis = new Redis({
      url: upstash.url,
      token: upstash.token,
      enableTelemetry: false,
      retry: { retries: 2, backoff: () => 200 },
    });
  }

  private async keyFor(tenant: string): Promise<string> {
    const held = this.keys.get(tenant);
    if (held !== undefined && Date.now() - held.mintedAtMs < (KEY_TTL_S * 1000) / 2)
      return held.key;
    const { key, record } = await generateApiKey({ tenant, roles: ["admin"] });
    await this.redis.set(
      apiKeyRedisKey(record.keyHash),
      { ...record, keyId: `retraining-${record.keyId}` },
      {
        ex: KEY_TTL_S,
      },
    );
    this.keys.set(tenant, { key, mintedAtMs: Date.now() });
    return key;
  }

  private async call(tenant: string, path: string, init: RequestInit): Promise<Response> {
    const key = await this.keyFor(tenant);
    let res: Response;
    try {
      res = await fetch(`${this.workerUrl}${path}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${key}` },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new DependencyUnavailableError(`The Worker at ${this.workerUrl} is unreachable`, {
        cause: err,
      });
    }
    return res;
  }

  async describe(tenant: string, model: string) {
    const res = await this.call(tenant, `/v1/models/${encodeURIComponent(model)}`, {});
    if (res.status === 404) return undefined;
    const body = (await failUnlessOk(res, "reading the model")) as {
      versions: { version: string; sha256: string }[];
      active: { pointer: RegistryPointer; isDefault: boolean } | null;
    };
    return {
      versions: body.versions.map((v) => ({ version: v.version, sha256: v.sha256 })),
      pointer: body.active?.pointer ?? null,
    };
  }

  async upload(
    tenant: string,
    model: string,
    version: string,
    onnx: Uint8Array,
    manifest: Record<string, unknown>,
  ) {
    const form = new FormData();
    form.set(
      "model",
      new Blob([new Uint8Array(onnx)], { type: "application/octet-stream" }),
      "model.onnx",
    );
    form.set("manifest", JSON.stringify(manifest));
    const res = await this.call(
      tenant,
      `/v1/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}`,
      { method: "PUT", body: form },
    );
    if (res.status === 409) return { outcome: "exists" as const };
    await failUnlessOk(res, "uploading the candidate");
    return { outcome: "created" as const };
  }

  async promote(tenant: string, model: string, pointer: RegistryPointer): Promise<void> {
    const res = await this.call(tenant, `/v1/models/${encodeURIComponent(model)}/promote`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        version: pointer.champion,
        ...(pointer.challenger ? { challenger: pointer.challenger } : {}),
      }),
    });
    await failUnlessOk(res, "promoting");
  }
}

async function failUnlessOk(res: Response, doing: string): Promise<unknown> {
  const text = await res.text();
  if (res.ok) return text === "" ? {} : JSON.parse(text);
  const message = `The Worker answered ${res.status} ${doing}: ${text.slice(0, 500)}`;
  // 5xx and 429 are worth retrying; a 4xx says the request itself is wrong.
  if (res.status >= 500 || res.status === 429) throw new DependencyUnavailableError(message);
  throw new DriftlineError("VALIDATION", message);
}
