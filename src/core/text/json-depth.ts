/** How deeply a JSON text nests, found by one scan of the text before anything parses it. */
import { ValidationError } from "../errors.ts";

/**
 * Deepest nesting the request bodies Driftline reads may have. Meta events and score rows nest
 * a few levels; a body nested thousands deep only exists to exhaust the stack of whatever walks
 * it after JSON.parse (validation, the text checks, serialisation).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * True when `text` opens more than `maxDepth` arrays or objects inside one another. Counts
 * brackets outside strings (escaped quotes inside strings are skipped); it does not validate the
 * JSON, JSON.parse does that afterwards. Hand-written: a parser would recurse as deep as the
 * attack.
 */
export function jsonNestsDeeperThan(text: string, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      // Most of a JSON body is inside strings (keys, ids, URLs, user agents): jump to the closing
      // quote with the native `indexOf` instead of visiting each character in JS (a batch of
      // events scans ~5x faster). The closing quote is the first one after an even run of
      // backslashes; an unterminated string ends the scan (JSON.parse reports it).
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escapedAt(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return false;
      i = end;
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      depth++;
      if (depth > maxDepth) return true;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) depth--;
  }
  return false;
}

/** True when the character at `at` follows an odd number of backslashes (it is escaped). */
function escapedAt(text: string, at: number): boolean {
  let backslashes = 0;
  for (let j = at - 1; text.charCodeAt(j) === 0x5c /* \ */; j--) backslashes++;
  return backslashes % 2 === 1;
}

/** A 400 naming the limit when `text` nests deeper than MAX_JSON_DEPTH; call it before JSON.parse. */
export function assertJsonDepth(text: string, field = "(body)"): void {
  if (!jsonNestsDeeperThan(text)) return;
  throw new ValidationError(
    `The JSON nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; flatten it.`,
    [{ field, message: `nests more than ${MAX_JSON_DEPTH} levels deep` }],
  );
}
