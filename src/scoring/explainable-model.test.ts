/** The direct evaluator is used only when it agrees with the runtime; explanations follow the graph. */
import { describe, expect, it } from "vitest";
import { committedModels, ortScorer } from "../../test/support/explain-models";
import { explainableModel } from "./explainable-model";
import type { RuntimeModel } from "./scoring-ports";

async function runtimeFor(bytes: Uint8Array, input: string, output: string, index: number) {
  const scorer = await ortScorer(bytes, input, output, index);
  return { score: scorer, release: scorer.release } satisfies RuntimeModel;
}

describe("explainableModel", () => {
  it.each([
    ["conversion", "direct", "linear"],
    ["linear", "direct", "linear"],
    ["gbt", "direct", "tree"],
    ["mlp", "onnxruntime", "permutation"],
  ] as const)("%s: scores with %s, explains by %s", async (name, evaluator, method) => {
    const model = committedModels().find((m) => m.name === name)!;
    const { manifest } = model;
    const runtime = await runtimeFor(
      model.bytes,
      manifest.input,
      manifest.output.name,
      manifest.output.index,
    );
    const loaded = await explainableModel(runtime, model.bytes.slice().buffer, manifest);
    expect(loaded.evaluator).toBe(evaluator);
    expect(loaded.explanation.method).toBe(method);
    await loaded.release();
  });

  it("falls back to the runtime when the direct evaluator disagrees with it, and says so", async () => {
    const model = committedModels().find((m) => m.name === "linear")!;
    const { manifest } = model;
    const runtime = await runtimeFor(
      model.bytes,
      manifest.input,
      manifest.output.name,
      manifest.output.index,
    );
    // A runtime that differs by 1e-5: as if the graph meant something the reader did not see.
    const shifted: RuntimeModel = {
      score: async (values, rows) => (await runtime.score(values, rows)).map((s) => s + 1e-5),
      release: runtime.release,
    };
    const logs: Record<string, unknown>[] = [];
    const loaded = await explainableModel(shifted, model.bytes.slice().buffer, manifest, {
      log: (entry) => logs.push(entry),
    });
    expect(loaded.evaluator).toBe("onnxruntime");
    expect(loaded.explanation.method).toBe("permutation");
    expect(logs[0]).toMatchObject({ level: "warn", msg: expect.stringMatching(/disagrees/) });
    await loaded.release();
  });

  it("can be told to score with the runtime only", async () => {
    const model = committedModels().find((m) => m.name === "gbt")!;
    const { manifest } = model;
    const runtime = await runtimeFor(
      model.bytes,
      manifest.input,
      manifest.output.name,
      manifest.output.index,
    );
    const loaded = await explainableModel(runtime, model.bytes.slice().buffer, manifest, {
      direct: false,
    });
    expect(loaded.evaluator).toBe("onnxruntime");
    await loaded.release();
  });
});
