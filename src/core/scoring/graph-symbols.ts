/** The symbolic tensors of graph recognition: affine columns over input features, and their arithmetic. */
import type { DirectModel } from "./direct-model.ts";
import type { OnnxNode } from "./onnx-graph-reader.ts";

export type Recognition = { ok: true; model: DirectModel } | { ok: false; reason: string };

/** g(x) = coef·x + table.get(x). */
export interface Term {
  coef: number;
  table: Map<number, number> | undefined;
}

/** constant + Σ_c g_c(x_c). */
export interface Affine {
  constant: number;
  terms: Map<number, Term>;
}

export type Sym =
  | { kind: "columns"; rank: 1 | 2; cols: Affine[] }
  | { kind: "constant"; dims: number[]; values: Float64Array }
  | { kind: "logistic"; rank: 1 | 2; cols: Affine[] }
  | { kind: "trees"; rank: 1 | 2; width: number; column: (index: number) => Recognition };

export class Unrecognised extends Error {}

export function fail(reason: string): never {
  throw new Unrecognised(reason);
}

export const ML = "ai.onnx.ml";
export const ONNX_FLOAT = 1;
export const ONNX_DOUBLE = 11;

// ---- affine arithmetic ----

export function constAffine(value: number): Affine {
  return { constant: value, terms: new Map() };
}

export function scale(a: Affine, k: number): Affine {
  const terms = new Map<number, Term>();
  for (const [c, t] of a.terms) {
    terms.set(c, {
      coef: t.coef * k,
      table: t.table && new Map([...t.table].map(([key, v]) => [key, v * k])),
    });
  }
  return { constant: a.constant * k, terms };
}

/** a + k·b */
export function addScaled(a: Affine, b: Affine, k = 1): Affine {
  const out = scale(a, 1);
  out.constant += k * b.constant;
  for (const [c, t] of b.terms) {
    const into = out.terms.get(c) ?? { coef: 0, table: undefined };
    into.coef += k * t.coef;
    if (t.table) {
      const table = into.table ?? new Map<number, number>();
      for (const [key, v] of t.table) table.set(key, (table.get(key) ?? 0) + k * v);
      into.table = table;
    }
    out.terms.set(c, into);
  }
  return out;
}

/** The input column an affine is exactly (x_c), if it is one. */
export function pureColumn(a: Affine): number | undefined {
  if (a.constant !== 0 || a.terms.size !== 1) return undefined;
  const [c, t] = [...a.terms][0]!;
  return t.coef === 1 && t.table === undefined ? c : undefined;
}

// ---- operators ----

export type Input = Sym | undefined;

export function columnsOf(sym: Input, what: string): { rank: 1 | 2; cols: Affine[] } {
  if (sym?.kind !== "columns") return fail(`${what} is not a linear function of the input`);
  return sym;
}

export function constOf(sym: Input, what: string): { dims: number[]; values: Float64Array } {
  if (sym?.kind !== "constant") return fail(`${what} is not a constant`);
  return sym;
}

/** A constant broadcast along the columns of a [batch, n] tensor: one value or n of them. */
export function broadcastConstant(
  k: { dims: number[]; values: Float64Array },
  n: number,
  what: string,
) {
  const rows = k.dims.length === 2 ? k.dims[0]! : 1;
  if (k.dims.length > 2 || rows !== 1) fail(`${what} broadcasts over rows`);
  if (k.values.length === 1) return (_j: number) => k.values[0]!;
  if (k.values.length === n) return (j: number) => k.values[j]!;
  return fail(`${what} has ${k.values.length} values for ${n} columns`);
}

export function intAttr(node: OnnxNode, name: string, fallback: number): number {
  return node.attributes.get(name)?.i ?? fallback;
}

export function floatAttr(node: OnnxNode, name: string, fallback: number): number {
  return node.attributes.get(name)?.f ?? fallback;
}

export function stringAttr(node: OnnxNode, name: string, fallback: string): string {
  return node.attributes.get(name)?.s ?? fallback;
}

/** A float-list attribute, or its `_as_tensor` form (newer ai.onnx.ml opsets). */
export function floatsAttr(node: OnnxNode, name: string): number[] {
  const tensor = node.attributes.get(`${name}_as_tensor`)?.t?.values();
  if (tensor) return [...tensor];
  return node.attributes.get(name)?.floats ?? [];
}

export function combine(
  x: Affine[],
  w: (i: number, j: number) => number,
  n: number,
  bias: (j: number) => number,
) {
  const out: Affine[] = [];
  for (let j = 0; j < n; j++) {
    let acc = constAffine(bias(j));
    x.forEach((col, i) => {
      const weight = w(i, j);
      if (weight !== 0) acc = addScaled(acc, col, weight);
    });
    out.push(acc);
  }
  return out;
}

export function classLabelCount(node: OnnxNode): number {
  return (
    (node.attributes.get("classlabels_ints")?.ints.length ?? 0) +
    (node.attributes.get("classlabels_int64s")?.ints.length ?? 0) +
    (node.attributes.get("classlabels_strings")?.strings.length ?? 0)
  );
}
