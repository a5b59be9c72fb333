/** SHA-256 of a string's UTF-8 bytes as lower-case hex. */

import { sha256 } from "@noble/hashes/sha2.js";

// @noble/hashes (audited, pure JS) rather than crypto.subtle: a 1000-event batch hashes ~10,000
// short strings, and each WebCrypto digest is an async round trip (~25 µs in workerd with many in
// flight, ~60 µs through Node's thread pool) against ~1 µs here once warm. Tests check the digests
// against node:crypto.
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
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

export function sha256Hex(text: string): string {
  pristine._cloneInto(hasher);
  // At most 3 UTF-8 bytes per UTF-16 unit.
  if (text.length * 3 <= SCRATCH_BYTES) {
    hasher.update(scratch.subarray(0, encoder.encodeInto(text, scratch).written));
  } else {
    hasher.update(encoder.encode(text));
  }
  hasher.digestInto(digest);
  let hex = "";
  for (let i = 0; i < 32; i++) hex += HEX[digest[i] as number];
  return hex;
}
