/** SHA-256 of a string's UTF-8 bytes as lower-case hex. */

import { sha256 } from "@noble/hashes/sha2.js";

// @noble/hashes (audited, pure JS) rather than crypto.subtle: a 1000-event CAPI batch hashes
// thousands of distinct short strings, and in workerd a WebCrypto digest of one (a promise and an
// ArrayBuffer per call, hex added) costs 4–5 µs even with the whole batch in flight at once
// (`Promise.all`), against ~2 µs here once warm; it would also make the per-event preparation
// asynchronous. Tests check the digests against node:crypto.
//
// One hasher is reset and reused (`_cloneInto` from a pristine instance, part of noble's Hash
// interface) and the text is encoded into a reused buffer: `sha256(encode(text))` allocated a
// hasher, its block buffer, views, the byte array and the digest per call, which made the
// garbage collector a fifth of the ingest CPU. Safe because the function is synchronous.
const encoder = new TextEncoder();
const SCRATCH_BYTES = 4096;
const scratch = new Uint8Array(SCRATCH_BYTES);
const digest = new Uint8Array(32);
const pristine = sha256.create();
const hasher = sha256.create();

// The hex is made as one flat string. Built with `+=` it was a rope (a V8 cons string) of 32
// pieces, which JSON.stringify has to flatten when it serialises the message: a CAPI event with
// every contact field took ~6 µs more CPU to prepare in workerd. `Uint8Array.prototype.toHex`
// (ES2026, in workerd) makes a flat string natively; where it is missing (Node 22) the digits
// are gathered and joined by one `String.fromCharCode`.
const HAS_NATIVE_TO_HEX = typeof (digest as { toHex?: unknown }).toHex === "function";
const HEX_DIGITS = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const digitCodes: number[] = new Array(64).fill(0);

/** Lower-case hex of `bytes` (at most 32) as a flat string; `native: false` forces the fallback. */
export function hexOf(bytes: Uint8Array, native = HAS_NATIVE_TO_HEX): string {
  if (native) return (bytes as Uint8Array & { toHex(): string }).toHex();
  const codes = bytes.length * 2 === digitCodes.length ? digitCodes : new Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    codes[2 * i] = HEX_DIGITS[byte >> 4];
    codes[2 * i + 1] = HEX_DIGITS[byte & 15];
  }
  return String.fromCharCode.apply(null, codes);
}

// Normalised contact values are short and nearly always ASCII, whose UTF-8 bytes are its char
// codes: copying them in a loop costs less than a call into the native TextEncoder, and a view of
// the scratch buffer per length, made once, spares a `subarray` per hash.
const ASCII_COPY_MAX = 256;
const scratchViews: Array<Uint8Array | undefined> = [];

function scratchView(length: number): Uint8Array {
  let view = scratchViews[length];
  if (view === undefined) {
    view = scratch.subarray(0, length);
    scratchViews[length] = view;
  }
  return view;
}

/** Copies `text` into `scratch` when it is ASCII and short; the byte count, else -1. */
function copyAscii(text: string): number {
  const length = text.length;
  if (length > ASCII_COPY_MAX) return -1;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return -1;
    scratch[i] = code;
  }
  return length;
}

export function sha256Hex(text: string): string {
  pristine._cloneInto(hasher);
  const ascii = copyAscii(text);
  if (ascii >= 0) {
    hasher.update(scratchView(ascii));
  } else if (text.length * 3 <= SCRATCH_BYTES) {
    // At most 3 UTF-8 bytes per UTF-16 unit.
    hasher.update(scratchView(encoder.encodeInto(text, scratch).written));
  } else {
    hasher.update(encoder.encode(text));
  }
  hasher.digestInto(digest);
  return hexOf(digest);
}
