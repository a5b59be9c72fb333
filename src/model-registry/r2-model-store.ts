/** ModelStore on R2: `tenants/<t>/models/<name>/<version>/{model.onnx,manifest.json}`. */
import { type ModelManifest, parseModelManifest } from "#core/model-manifest";
import type { ModelVersionReader } from "../queue/expand-model-notice";
import type { ModelStore, StoredVersionInfo } from "./model-registry-ports";

const MODEL_FILE = "model.onnx";
const MANIFEST_FILE = "manifest.json";

function modelsPrefix(tenant: string): string {
  return `tenants/${tenant}/models/`;
}

function versionPrefix(tenant: string, name: string, version: string): string {
  return `${modelsPrefix(tenant)}${name}/${version}/`;
}

/**
 * Names and versions are checked against IDENTIFIER_PATTERN before they reach this store, so no
 * key can escape its tenant's prefix. The manifest is the version's commit marker: it is written
 * first with a create-only condition (so two uploads of one version cannot both win), then the
 * model bytes; readers treat a version whose bytes are not there yet as absent.
 */
export class R2ModelStore implements ModelStore, ModelVersionReader {
  constructor(private readonly bucket: R2Bucket) {}

  async listModelNames(tenant: string): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix: modelsPrefix(tenant), delimiter: "/", cursor });
      for (const p of page.delimitedPrefixes) names.push(p.slice(modelsPrefix(tenant).length, -1));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return names;
  }

  async listVersions(tenant: string, name: string): Promise<StoredVersionInfo[]> {
    const prefix = `${modelsPrefix(tenant)}${name}/`;
    const versions: StoredVersionInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, cursor, include: ["customMetadata"] });
      for (const object of page.objects) {
        const rest = object.key.slice(prefix.length);
        const slash = rest.indexOf("/");
        if (slash < 0 || rest.slice(slash + 1) !== MANIFEST_FILE) continue;
        versions.push(infoFromMetadata(rest.slice(0, slash), object));
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return versions;
  }

  async getManifest(
    tenant: string,
    name: string,
    version: string,
  ): Promise<ModelManifest | undefined> {
    const object = await this.bucket.get(versionPrefix(tenant, name, version) + MANIFEST_FILE);
    if (!object) return undefined;
    return parseModelManifest(await object.json());
  }

  /** The manifest with the version's upload facts (from the manifest object's metadata). */
  async getVersion(
    tenant: string,
    name: string,
    version: string,
  ): Promise<{ manifest: ModelManifest; info: StoredVersionInfo } | undefined> {
    const object = await this.bucket.get(versionPrefix(tenant, name, version) + MANIFEST_FILE);
    if (!object) return undefined;
    const manifest = parseModelManifest(await object.json());
    return { manifest, info: infoFromMetadata(version, object) };
  }

  async getModelBytes(
    tenant: string,
    name: string,
    version: string,
  ): Promise<ArrayBuffer | undefined> {
    const object = await this.bucket.get(versionPrefix(tenant, name, version) + MODEL_FILE);
    return object ? object.arrayBuffer() : undefined;
  }

  async hasVersion(tenant: string, name: string, version: string): Promise<boolean> {
    return (await this.bucket.head(versionPrefix(tenant, name, version) + MANIFEST_FILE)) !== null;
  }

  async putVersion(
    tenant: string,
    name: string,
    version: string,
    content: { modelBytes: ArrayBuffer; manifest: ModelManifest; info: StoredVersionInfo },
  ): Promise<"created" | "exists"> {
    const prefix = versionPrefix(tenant, name, version);
    const customMetadata = {
      uploadedAt: content.info.uploadedAt,
      sizeBytes: String(content.info.sizeBytes),
      sha256: content.info.sha256,
      features: String(content.info.features),
    };
    // R2 returns null instead of writing when the create-only condition fails.
    const claimed = await this.bucket.put(
      prefix + MANIFEST_FILE,
      JSON.stringify(content.manifest),
      {
        onlyIf: { etagDoesNotMatch: "*" },
        httpMetadata: { contentType: "application/json" },
        customMetadata,
      },
    );
    if (claimed === null) return "exists";
    try {
      await this.bucket.put(prefix + MODEL_FILE, content.modelBytes, {
        httpMetadata: { contentType: "application/octet-stream" },
        sha256: content.info.sha256,
        customMetadata,
      });
    } catch (err) {
      // Without its bytes the version must not look uploaded; the caller may try again.
      await this.bucket.delete(prefix + MANIFEST_FILE);
      throw err;
    }
    return "created";
  }
}

function infoFromMetadata(version: string, object: R2Object): StoredVersionInfo {
  const meta = object.customMetadata ?? {};
  return {
    version,
    uploadedAt: meta.uploadedAt ?? object.uploaded.toISOString(),
    sizeBytes: Number(meta.sizeBytes ?? 0),
    sha256: meta.sha256 ?? "",
    features: Number(meta.features ?? 0),
  };
}
