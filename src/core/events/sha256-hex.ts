/** SHA-256 of a string's UTF-8 bytes as lower-case hex. */

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

// @noble/hashes (audited, pure JS) rather than crypto.subtle: a 1000-event batch hashes ~10,000
// short strings, and each WebCrypto digest is an async round trip (~25 µs in workerd with many in
// flight, ~60 µs through Node's thread pool) against ~1 µs here once warm. Tests check the digests
// against node:crypto.
const encoder = new TextEncoder();

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(encoder.encode(text)));
}
