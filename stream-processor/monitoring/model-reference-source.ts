/** Finds and prepares a model version's drift reference: the registry (model_versions) first, then the bundled models folder; cached. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { parseModelManifest } from "#core/model-manifest";
import { type ModelReference, prepareModelReference } from "#core/monitoring";
import type { ModelKey, MonitoringTransaction } from "./monitoring-store";

/**
 * How long "this version has no usable manifest" is remembered before looking again, ms. Short:
 * a version's registry record and its first predictions travel the queue and Kafka side by side,
 * so predictions may arrive a moment before the manifest is stored; they go without drift only
 * until the next look (one indexed read per unknown version per interval).
 */
export const MISSING_TTL_MS = 5_000;
/** Model and version names as the registry allows them (so they are safe as path segments). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

type Entry =
  | { kind: "found"; reference: ModelReference; source: "registry" | "bundled" }
  | { kind: "missing"; untilMs: number };

export class ModelReferenceSource {
  private readonly cache = new Map<string, Entry>();

  constructor(private readonly options: { modelsDir: string; log: Logger }) {}

  /**
   * The prepared reference of `key`, or undefined when no manifest is found or it is invalid
   * (logged once per look-up; monitoring then tracks performance only).
   */
  async get(
    tx: Pick<MonitoringTransaction, "loadManifest">,
    key: ModelKey,
    nowMs: number,
  ): Promise<ModelReference | undefined> {
    const id = `${key.tenant}\u0000${key.model}\u0000${key.version}`;
    const cached = this.cache.get(id);
    if (cached?.kind === "found") return cached.reference;
    if (cached?.kind === "missing" && cached.untilMs > nowMs) return undefined;

    let raw = await tx.loadManifest(key);
    let source: "registry" | "bundled" = "registry";
    if (raw === undefined) {
      raw = await this.bundled(key);
      source = "bundled";
    }
    if (raw === undefined) {
      this.options.log.info(
        { ...key },
        "no manifest for this model version: drift is not monitored",
      );
      this.cache.set(id, { kind: "missing", untilMs: nowMs + MISSING_TTL_MS });
      return undefined;
    }
    try {
      const reference = prepareModelReference(parseModelManifest(raw));
      this.cache.set(id, { kind: "found", reference, source });
      this.options.log.info(
        { ...key, source, monitored: reference.columns.map((c) => c.name) },
        "drift reference loaded",
      );
      return reference;
    } catch (error) {
      this.options.log.warn(
        { ...key, source, err: error },
        "the model version's manifest or reference is invalid: drift is not monitored",
      );
      this.cache.set(id, { kind: "missing", untilMs: nowMs + MISSING_TTL_MS });
      return undefined;
    }
  }

  private async bundled(key: ModelKey): Promise<unknown | undefined> {
    if (!NAME.test(key.model) || !NAME.test(key.version)) return undefined;
    try {
      const text = await readFile(
        join(this.options.modelsDir, key.model, key.version, "manifest.json"),
        "utf8",
      );
      return JSON.parse(text) as unknown;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      this.options.log.warn({ ...key, err: error }, "cannot read the bundled manifest");
      return undefined;
    }
  }
}
