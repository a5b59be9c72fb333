/** Finds and prepares a model version's drift reference: the registry (model_versions) first, then the bundled models folder; cached. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { LRUCache } from "lru-cache";
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

/** Prepared references kept by default (a reference holds its bins and its KS sample). */
export const DEFAULT_MAX_REFERENCES = 1_000;
/** Versions remembered as missing by default (a few bytes each). */
export const DEFAULT_MAX_MISSING = 10_000;

export interface ModelReferenceSourceOptions {
  modelsDir: string;
  log: Logger;
  /** Most prepared references kept; the least recently used is prepared again when next needed. */
  maxReferences?: number;
  /** Most versions remembered as having no usable manifest. */
  maxMissing?: number;
}

/**
 * Found references and misses are kept apart, each in its own LRU: predictions for versions no
 * manifest describes (a client sending made-up version names) fill only the misses, so they
 * cannot push out the references of versions that are monitored.
 */
export class ModelReferenceSource {
  private readonly found: LRUCache<string, ModelReference>;
  private readonly missing: LRUCache<string, { untilMs: number }>;

  constructor(private readonly options: ModelReferenceSourceOptions) {
    this.found = new LRUCache({ max: options.maxReferences ?? DEFAULT_MAX_REFERENCES });
    this.missing = new LRUCache({ max: options.maxMissing ?? DEFAULT_MAX_MISSING });
  }

  /** References and misses held in memory. */
  get cached(): { references: number; missing: number } {
    return { references: this.found.size, missing: this.missing.size };
  }

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
    const reference = this.found.get(id);
    if (reference !== undefined) return reference;
    const miss = this.missing.get(id);
    if (miss !== undefined && miss.untilMs > nowMs) return undefined;

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
      this.missing.set(id, { untilMs: nowMs + MISSING_TTL_MS });
      return undefined;
    }
    try {
      const reference = prepareModelReference(parseModelManifest(raw));
      this.missing.delete(id);
      this.found.set(id, reference);
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
      this.missing.set(id, { untilMs: nowMs + MISSING_TTL_MS });
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
