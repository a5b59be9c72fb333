/** Dense row-major matrices, one-hot expansion of a manifest's input columns, and standardisation. */
import type { ManifestFeature } from "../model-manifest.ts";

export interface Matrix {
  rows: number;
  cols: number;
  /** Row-major values, rows × cols. */
  data: Float64Array;
}

export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) throw new RangeError(`row ${i} has ${row.length} values, not ${cols}`);
    data.set(row, i * cols);
  });
  return { rows: rows.length, cols, data };
}

/** How a model input column enters linear models: as is, or one-hot over its categories. */
export type InputColumn = { kind: "number" } | { kind: "categorical"; levels: number };

export function inputColumns(features: readonly ManifestFeature[]): InputColumn[] {
  return features.map((f) =>
    f.type === "number" ? { kind: "number" } : { kind: "categorical", levels: f.categories.length },
  );
}

export function expandedWidth(columns: readonly InputColumn[]): number {
  return columns.reduce((w, c) => w + (c.kind === "number" ? 1 : c.levels), 0);
}

/**
 * The linear models' view of an input row: numbers as is, each categorical as a one-hot block.
 * An index outside 0..levels−1 (the unknown category, −1) gives an all-zero block — exactly what
 * the ONNX graph's Equal-against-[0..k−1] one-hot does.
 */
export function expandRow(
  columns: readonly InputColumn[],
  x: ArrayLike<number>,
  out: Float64Array,
): Float64Array {
  let j = 0;
  columns.forEach((c, i) => {
    const v = x[i]!;
    if (c.kind === "number") out[j++] = v;
    else {
      for (let k = 0; k < c.levels; k++) out[j + k] = v === k ? 1 : 0;
      j += c.levels;
    }
  });
  return out;
}

export function expandMatrix(columns: readonly InputColumn[], x: Matrix): Matrix {
  const cols = expandedWidth(columns);
  const data = new Float64Array(x.rows * cols);
  for (let i = 0; i < x.rows; i++) {
    expandRow(
      columns,
      x.data.subarray(i * x.cols, (i + 1) * x.cols),
      data.subarray(i * cols, (i + 1) * cols),
    );
  }
  return { rows: x.rows, cols, data };
}

/** Per-column affine map x → (x − mean) / scale; one-hot columns keep mean 0, scale 1. */
export interface Standardizer {
  mean: Float64Array;
  scale: Float64Array;
}

/** Mean and standard deviation of the numeric columns of an expanded matrix. */
export function fitStandardizer(columns: readonly InputColumn[], x: Matrix): Standardizer {
  const mean = new Float64Array(x.cols);
  const scale = new Float64Array(x.cols).fill(1);
  let j = 0;
  for (const c of columns) {
    if (c.kind === "categorical") {
      j += c.levels;
      continue;
    }
    let sum = 0;
    for (let i = 0; i < x.rows; i++) sum += x.data[i * x.cols + j]!;
    const m = sum / x.rows;
    let ss = 0;
    for (let i = 0; i < x.rows; i++) ss += (x.data[i * x.cols + j]! - m) ** 2;
    const sd = Math.sqrt(ss / x.rows);
    mean[j] = m;
    // A constant column keeps scale 1 so that folding never divides by zero.
    scale[j] = sd > 0 ? sd : 1;
    j += 1;
  }
  return { mean, scale };
}

export function standardize(x: Matrix, s: Standardizer): Matrix {
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < x.cols; j++) {
      const k = i * x.cols + j;
      data[k] = (x.data[k]! - s.mean[j]!) / s.scale[j]!;
    }
  }
  return { rows: x.rows, cols: x.cols, data };
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}
