/** ModelRuntime on onnxruntime-web: loads ONNX bytes into sessions, scores rows, checks uploads. */
import type { InferenceSession, Tensor } from "onnxruntime-web/wasm";
import type { ModelManifest } from "#core/model-manifest";
import {
  buildFeatureMatrix,
  checkOnnxGraph,
  defaultFeatureRow,
  MAX_SCORE_ROWS,
} from "#core/scoring";
import { explainableModel } from "./explainable-model";
import type { OrtModule } from "./onnx-runtime";
import type { LoadedModel, ModelCheck, ModelRuntime, RuntimeModel } from "./scoring-ports";

const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  executionProviders: ["wasm"],
  graphOptimizationLevel: "all",
  // Errors surface as exceptions with messages; ORT's own log lines would only add noise.
  logSeverityLevel: 3,
};

const SCORE_TYPES = new Set<Tensor.Type>(["float32", "float64"]);

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Scores of the `index` column of an output tensor `[rows]` or `[rows, k]`, as float64. */
function scoreColumn(output: Tensor, rows: number, index: number): Float64Array {
  const data = output.data as ArrayLike<number | bigint>;
  const width = output.dims.length >= 2 ? Number(output.dims[1]) : 1;
  if (index >= width || data.length < rows * width) {
    throw new Error(
      `output has shape [${output.dims.join(", ")}]; column ${index} of ${rows} rows is not there`,
    );
  }
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) scores[r] = Number(data[r * width + index]);
  return scores;
}

class OnnxLoadedModel implements RuntimeModel {
  constructor(
    private readonly ort: OrtModule,
    private readonly session: InferenceSession,
    private readonly manifest: ModelManifest,
  ) {}

  async score(values: Float32Array, rows: number): Promise<Float64Array> {
    if (rows === 0) return new Float64Array(0);
    const columns = values.length / rows;
    const input = new this.ort.Tensor("float32", values, [rows, columns]);
    const outputName = this.manifest.output.name;
    const outputs = await this.session.run({ [this.manifest.input]: input }, [outputName]);
    const output = outputs[outputName];
    if (!output) throw new Error(`the model returned no output named "${outputName}"`);
    return scoreColumn(output, rows, this.manifest.output.index);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export interface OnnxModelRuntimeOptions {
  /** Score linear and tree graphs with the direct evaluator (verified on load). Default on. */
  direct?: boolean;
}

export class OnnxModelRuntime implements ModelRuntime {
  /** `loadOrt` configures ORT for the runtime it runs in (see adapters/onnx-runtime.ts). */
  constructor(
    private readonly loadOrt: () => Promise<OrtModule>,
    private readonly options: OnnxModelRuntimeOptions = {},
  ) {}

  async load(bytes: ArrayBuffer, manifest: ModelManifest): Promise<LoadedModel> {
    const ort = await this.loadOrt();
    const session = await ort.InferenceSession.create(new Uint8Array(bytes), SESSION_OPTIONS);
    const runtime = new OnnxLoadedModel(ort, session, manifest);
    try {
      return await explainableModel(runtime, bytes, manifest, {
        direct: this.options.direct ?? true,
      });
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  async check(bytes: ArrayBuffer, manifest: ModelManifest): Promise<ModelCheck> {
    // Before ORT sees the bytes: a graph that can allocate without bound must never be scored,
    // not even once here, where it would take the isolate down with the upload request.
    const graph = checkOnnxGraph(new Uint8Array(bytes));
    if (!graph.ok) return { ok: false, problems: graph.problems };
    const ort = await this.loadOrt();
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(new Uint8Array(bytes), SESSION_OPTIONS);
    } catch (err) {
      return { ok: false, problems: [`model does not load in onnxruntime: ${message(err)}`] };
    }
    try {
      const problems = checkSignature(session, manifest);
      if (problems.length > 0) return { ok: false, problems };
      // A full batch, as production will send: a model that fails or runs out of memory at
      // MAX_SCORE_ROWS rows is refused now rather than on a customer's request.
      const defaults = { features: defaultFeatureRow(manifest.features) };
      const matrix = buildFeatureMatrix(
        manifest.features,
        Array.from({ length: MAX_SCORE_ROWS }, () => defaults),
        () => "features",
      );
      if (!matrix.ok) return { ok: false, problems: matrix.issues.map((i) => i.message) };
      let scores: Float64Array;
      try {
        const loaded = new OnnxLoadedModel(ort, session, manifest);
        scores = await loaded.score(matrix.values, MAX_SCORE_ROWS);
      } catch (err) {
        return {
          ok: false,
          problems: [
            `scoring a batch of ${MAX_SCORE_ROWS} rows of defaults failed: ${message(err)}`,
          ],
        };
      }
      const score = scores.find((s) => !(s >= 0 && s <= 1));
      if (score !== undefined) {
        return {
          ok: false,
          problems: [
            `output "${manifest.output.name}" column ${manifest.output.index} gave ${score} for a row of defaults; Driftline serves probabilities in [0, 1] (check output.name and output.index)`,
          ],
        };
      }
      return { ok: true };
    } finally {
      await session.release();
    }
  }
}

/** Input and output names, element types and shapes against the manifest. */
function checkSignature(session: InferenceSession, manifest: ModelManifest): string[] {
  const problems: string[] = [];
  const inputs = session.inputMetadata;
  const input = inputs.find((m) => m.name === manifest.input);
  if (!input) {
    problems.push(
      `manifest input "${manifest.input}" is not a model input; the model's inputs are ${list(session.inputNames)}`,
    );
  } else if (inputs.length > 1) {
    problems.push(
      `the model has ${inputs.length} inputs (${list(session.inputNames)}); Driftline feeds exactly one float input [batch, features]`,
    );
  } else if (!input.isTensor) {
    problems.push(`input "${input.name}" is not a tensor`);
  } else {
    if (input.type !== "float32") {
      problems.push(`input "${input.name}" has element type ${input.type}; it must be float32`);
    }
    const shape = input.shape;
    // An empty shape means the model declares none; the run with a default row still checks it.
    if (shape.length !== 2 && shape.length !== 0) {
      problems.push(
        `input "${input.name}" has shape [${shape.join(", ")}]; it must be [batch, ${manifest.features.length}]`,
      );
    } else if (shape.length === 2) {
      const [batch, width] = shape;
      if (typeof batch === "number" && batch > 0) {
        problems.push(
          `input "${input.name}" has a fixed batch size ${batch}; export it with a dynamic first dimension`,
        );
      }
      if (typeof width === "number" && width > 0 && width !== manifest.features.length) {
        problems.push(
          `input "${input.name}" takes ${width} columns but the manifest lists ${manifest.features.length} features`,
        );
      }
    }
  }

  const output = session.outputMetadata.find((m) => m.name === manifest.output.name);
  if (!output) {
    problems.push(
      `manifest output.name "${manifest.output.name}" is not a model output; the model's outputs are ${list(session.outputNames)}`,
    );
  } else if (!output.isTensor) {
    problems.push(
      `output "${output.name}" is not a tensor (a ZipMap sequence of maps?); export the probabilities as a float tensor [batch, k]`,
    );
  } else {
    if (!SCORE_TYPES.has(output.type)) {
      problems.push(
        `output "${output.name}" has element type ${output.type}; it must be float32 or float64`,
      );
    }
    const shape = output.shape;
    const width = shape.length === 1 ? 1 : shape[1];
    if (shape.length > 2) {
      problems.push(
        `output "${output.name}" has shape [${shape.join(", ")}]; expected [batch] or [batch, k]`,
      );
    } else if (typeof width === "number" && width > 0 && manifest.output.index >= width) {
      problems.push(
        `manifest output.index ${manifest.output.index} is outside output "${output.name}" with ${width} column(s)`,
      );
    }
  }
  return problems;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "(none)" : names.map((n) => `"${n}"`).join(", ");
}
