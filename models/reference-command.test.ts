import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { csvHeader, csvLine } from "#core/retraining";
import { buildManifestReference, parseCsv } from "./reference-command";
import { generateRows } from "./synthetic/conversion-data";

const FIXTURE = resolve(import.meta.dirname, "fixtures/linear");
const manifest = JSON.parse(readFileSync(resolve(FIXTURE, "manifest.json"), "utf8"));
const names = (manifest.features as { name: string }[]).map((f) => f.name);

describe("models:reference", () => {
  it("reproduces the reference the training pipeline froze, from the training rows as CSV", async () => {
    // The fixture was trained on the first 10,000 rows of seed 101 (models/train-models.ts).
    const train = generateRows({ seed: 101, n: 10_000 });
    const csv =
      csvHeader(names) +
      train
        .map((r, i) =>
          csvLine(names, { features: { ...r.features }, label: r.label === 1, predictedAtMs: i }),
        )
        .join("");
    const { reference: _frozen, ...withoutReference } = manifest;
    const out = await buildManifestReference({
      modelBytes: readFileSync(resolve(FIXTURE, "model.onnx")),
      data: { text: csv, ndjson: false },
      manifest: withoutReference,
      seed: manifest.training.seed,
    });
    // Bins and proportions of every feature are exactly the frozen ones; the score's too,
    // within float32 (onnxruntime here, double precision in the pipeline).
    expect(out.reference?.features).toEqual(manifest.reference.features);
    const edges = (out.reference?.score as { edges: number[] } | undefined)?.edges ?? [];
    const frozen = manifest.reference.score.edges as number[];
    expect(edges).toHaveLength(frozen.length);
    for (const [i, e] of edges.entries()) expect(e).toBeCloseTo(frozen[i]!, 5);
  }, 60_000);

  it("infers features from the data when no manifest is given", async () => {
    const rows = generateRows({ seed: 5, n: 300 });
    const ndjson = rows
      .map((r) => `${JSON.stringify({ features: r.features, label: r.label })}\n`)
      .join("");
    const out = await buildManifestReference({
      modelBytes: readFileSync(resolve(FIXTURE, "model.onnx")),
      data: { text: ndjson, ndjson: true },
      manifest: { features: manifest.features },
    });
    expect(out.reference?.rows).toBe(300);
  });

  it("reads RFC 4180 quoting and refuses ragged lines", () => {
    expect(parseCsv('a,b\r\n"x, ""y""",2\r\n')).toEqual([{ a: 'x, "y"', b: "2" }]);
    expect(() => parseCsv("a,b\n1\n")).toThrow(/line 2 has 1 fields, the header 2/);
  });
});
