import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it, vi } from "vitest";
import { MISSING_TTL_MS, ModelReferenceSource } from "./model-reference-source";
import { demoManifest } from "./testing/conversion-stream";

const emptyModelsDir = mkdtempSync(join(tmpdir(), "driftline-models-"));
afterAll(() => rmSync(emptyModelsDir, { recursive: true, force: true }));

const key = { tenant: "acme", model: "churn", version: "7" };

describe("ModelReferenceSource", () => {
  it("looks again for a version without manifest once the short miss interval has passed", async () => {
    const source = new ModelReferenceSource({
      modelsDir: emptyModelsDir,
      log: pino({ level: "silent" }),
    });
    let stored: unknown;
    const loadManifest = vi.fn(async () => stored);
    const tx = { loadManifest };
    const t0 = 1_000_000;

    expect(await source.get(tx, key, t0)).toBeUndefined();
    // The registry record arrives just after the first predictions.
    stored = demoManifest();
    expect(await source.get(tx, key, t0 + MISSING_TTL_MS - 1)).toBeUndefined();
    expect(loadManifest).toHaveBeenCalledTimes(1);

    const reference = await source.get(tx, key, t0 + MISSING_TTL_MS);
    expect(reference?.columns.length).toBeGreaterThan(0);
    expect(loadManifest).toHaveBeenCalledTimes(2);
    // Found references stay cached.
    expect(await source.get(tx, key, t0 + 10 * MISSING_TTL_MS)).toBe(reference);
    expect(loadManifest).toHaveBeenCalledTimes(2);
  });
});
