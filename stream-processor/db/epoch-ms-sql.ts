/** Epoch milliseconds in SQL text: exact conversions to and from timestamptz, and the parameter form. */

/** Epoch ms (a bigint parameter) to timestamptz, exactly. */
export const TS = (param: string) =>
  `('epoch'::timestamptz + ${param}::bigint * interval '1 millisecond')`;
/** timestamptz to epoch ms (bigint), exactly. */
export const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint`;
/** A ms value as a bigint parameter (whole ms). */
export const ms = (v: number) => String(Math.round(v));
