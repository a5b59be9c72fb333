/**
 * Reads an event message's envelope (tenant, source, pixel, test code) and where its `event`
 * lies in the message text, without building the event: the delivery service forwards the event
 * as the text it already is, spliced into Meta's request body.
 *
 * Hand-written because no JSON library gives a value's position without building it (parsing
 * every event and stringifying it again was the delivery service's largest CPU cost). It checks
 * the whole text against JSON's grammar (RFC 8259), so a message JSON.parse would refuse is
 * refused here too, and a spliced event is always valid JSON.
 */

/** The fields of an event message the delivery reads; the event itself stays text. */
export interface ForwardableMessage {
  tenant: string;
  source?: string;
  pixelId?: string;
  testEventCode?: string;
  /** The message's `event` object, exactly as it appears in the message. */
  eventJson: string;
}

/** Envelope fields the delivery reads, by name; each must be a string when present. */
const ENVELOPE = new Set(["tenant", "source", "pixelId", "testEventCode"]);
/** Deeper nesting is refused (as a poison message) rather than risk the stack. */
const MAX_DEPTH = 64;

const QUOTE = 0x22;

class Invalid extends Error {}
const invalid = new Invalid("not JSON");

/**
 * The message's envelope, or undefined when it is not an event message (not JSON, not an object,
 * no string `tenant` or no object `event`): such a record is the metrics group's to dead-letter.
 */
export function readForwardable(value: Buffer | null): ForwardableMessage | undefined {
  if (value === null || value.length === 0) return undefined;
  const text = value.toString("utf8");
  try {
    return readEnvelope(text);
  } catch (error) {
    if (error instanceof Invalid) return undefined;
    throw error;
  }
}

function readEnvelope(s: string): ForwardableMessage | undefined {
  let i = ws(s, 0);
  if (s.charCodeAt(i) !== 0x7b) {
    // Valid JSON of another type is still not an event message.
    skipValue(s, i, 0);
    return undefined;
  }
  const fields: Record<string, string> = {};
  let eventJson: string | undefined;
  let eventIsObject = false;
  i = ws(s, i + 1);
  if (s.charCodeAt(i) === 0x7d) i += 1;
  else {
    for (;;) {
      if (s.charCodeAt(i) !== QUOTE) throw invalid;
      const keyEnd = skipString(s, i);
      const key = keyText(s, i, keyEnd);
      i = ws(s, keyEnd);
      if (s.charCodeAt(i) !== 0x3a) throw invalid;
      const start = ws(s, i + 1);
      const end = skipValue(s, start, 1);
      // JSON.parse keeps the last of repeated keys; so does this.
      if (key === "event") {
        eventIsObject = s.charCodeAt(start) === 0x7b;
        eventJson = s.slice(start, end);
      } else if (ENVELOPE.has(key)) {
        if (s.charCodeAt(start) === QUOTE) fields[key] = stringText(s, start, end);
        else delete fields[key];
      }
      i = ws(s, end);
      const c = s.charCodeAt(i);
      if (c === 0x2c) i = ws(s, i + 1);
      else if (c === 0x7d) {
        i += 1;
        break;
      } else throw invalid;
    }
  }
  if (ws(s, i) !== s.length) throw invalid;
  if (fields.tenant === undefined || eventJson === undefined || !eventIsObject) return undefined;
  return {
    tenant: fields.tenant,
    ...(fields.source === undefined ? {} : { source: fields.source }),
    ...(fields.pixelId === undefined ? {} : { pixelId: fields.pixelId }),
    ...(fields.testEventCode === undefined ? {} : { testEventCode: fields.testEventCode }),
    eventJson,
  };
}

function ws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** The index after the value starting at `i`. */
function skipValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return skipString(s, i);
  if (c === 0x7b || c === 0x5b) {
    if (depth >= MAX_DEPTH) throw invalid;
    const object = c === 0x7b;
    const close = object ? 0x7d : 0x5d;
    i = ws(s, i + 1);
    if (s.charCodeAt(i) === close) return i + 1;
    for (;;) {
      if (object) {
        if (s.charCodeAt(i) !== QUOTE) throw invalid;
        i = ws(s, skipString(s, i));
        if (s.charCodeAt(i) !== 0x3a) throw invalid;
        i = ws(s, i + 1);
      }
      i = ws(s, skipValue(s, i, depth + 1));
      const next = s.charCodeAt(i);
      if (next === close) return i + 1;
      if (next !== 0x2c) throw invalid;
      i = ws(s, i + 1);
    }
  }
  if (s.startsWith("true", i)) return i + 4;
  if (s.startsWith("false", i)) return i + 5;
  if (s.startsWith("null", i)) return i + 4;
  NUMBER.lastIndex = i;
  if (!NUMBER.test(s)) throw invalid;
  return NUMBER.lastIndex;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** A JSON string: irregexp runs it as native code, several times faster than a loop here. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON refuses raw control characters in strings
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** The index after the string starting at `i` (a quote). */
function skipString(s: string, i: number): number {
  STRING.lastIndex = i;
  if (!STRING.test(s)) throw invalid;
  return STRING.lastIndex;
}

function stringText(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  return inner.includes("\\") ? (JSON.parse(s.slice(start, end)) as string) : inner;
}

const keyText = stringText;
