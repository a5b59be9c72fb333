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
 * brackets outside strings (escapes inside strings are skipped); it does not validate the JSON,
 * JSON.parse does that afterwards. Hand-written: a parser would recurse as deep as the attack.
 */
export function jsonNestsDeeperThan(text: string, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inString = false;
      continue;
    }
    if (ch === 0x22) inString = true;
    else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      depth++;
      if (depth > maxDepth) return true;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) depth--;
  }
  return false;
}

/** A 400 naming the limit when `text` nests deeper than MAX_JSON_DEPTH; call it before JSON.parse. */
export function assertJsonDepth(text: string, field = "(body)"): void {
  if (!jsonNestsDeeperThan(text)) return;
  throw new ValidationError(
    `The JSON nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; flatten it.`,
    [{ field, message: `nests more than ${MAX_JSON_DEPTH} levels deep` }],
  );
}
