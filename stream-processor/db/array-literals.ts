/** Postgres array literals for statement parameters, built in one pass. */

// The driver's generic serializer (prepareValue and two regex replaces per element) cost ~4 µs
// per record on the hot path; these elements are plain strings without NUL (the decoders refuse
// it) and finite numbers, so quoting strings is the only escaping needed. Hand-written because
// no library does just this.
const NEEDS_ESCAPE = /["\\]/;

function quoted(v: string): string {
  return `"${NEEDS_ESCAPE.test(v) ? v.replace(/["\\]/g, "\\$&") : v}"`;
}

/** `{"a","b\"c"}`: a text[] literal. */
export function textArray(values: readonly string[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) out += `${i === 0 ? "" : ","}${quoted(values[i]!)}`;
  return `${out}}`;
}

/** `{"a",NULL}`: a text[] literal with NULL elements. */
export function nullableTextArray(values: readonly (string | null | undefined)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out += `${i === 0 ? "" : ","}${v === null || v === undefined ? "NULL" : quoted(v)}`;
  }
  return `${out}}`;
}

/** `{1,2.5,-3}`: a numeric array literal (int, bigint, float8 or numeric). */
export function numberArray(values: readonly (number | string)[]): string {
  return `{${values.join(",")}}`;
}

/** `{1,NULL,3}`: a numeric array literal with NULL elements. */
export function nullableNumberArray(values: readonly (number | string | null)[]): string {
  return `{${values.map((v) => (v === null ? "NULL" : v)).join(",")}}`;
}
