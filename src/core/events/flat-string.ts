/** A copy of a string in one piece, so that JSON.stringify keeps to V8's fast path. */

// Why: V8 keeps a substring of 13 or more characters as a view into its parent (a sliced string)
// and a concatenation of that size as a pair of strings (a cons string). workerd's V8 serialises
// an object holding a sliced string on JSON.stringify's slow path, and a cons string is
// flattened while serialising: a CAPI message whose `clickIds.fbclid` was cut out of the fbc
// cookie took ~8 µs to serialise instead of ~3.5. Copying the few strings a message takes from
// substrings or concatenations (query values, the fbclid of an fbc, the fbc built from an fbclid)
// costs a fraction of a µs. The copy always equals the original; only its representation differs.

/** V8 copies shorter substrings and concatenations anyway (SlicedString / ConsString kMinLength). */
const MIN_SHARED_LENGTH = 13;
/** Longer texts go through JSON (exact for any string); `fromCharCode` takes one argument per unit. */
const MAX_CODES = 1024;
const codes: number[] = [];

/** `text`, as a sequential string when it may have been a sliced or cons string. */
export function flatString(text: string): string {
  const length = text.length;
  if (length < MIN_SHARED_LENGTH) return text;
  if (length > MAX_CODES) return JSON.parse(JSON.stringify(text)) as string;
  codes.length = length;
  for (let i = 0; i < length; i++) codes[i] = text.charCodeAt(i);
  return String.fromCharCode.apply(null, codes);
}
