// In workerd, where `Uint8Array.prototype.toHex` makes the hex natively: the digests still match
// WebCrypto's, on both of hexOf's paths.
import { describe, expect, it } from "vitest";
import { hexOf, sha256Hex } from "./sha256-hex.ts";

async function webCryptoHex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("sha256Hex in workerd", () => {
  it("has the native toHex and matches WebCrypto", async () => {
    expect(typeof (new Uint8Array(1) as { toHex?: unknown }).toHex).toBe("function");
    for (const text of ["", "joe@example.com", "müller straße 日本", "😀", "x".repeat(5000)]) {
      expect(sha256Hex(text)).toBe(await webCryptoHex(text));
    }
  });

  it("writes the same hex natively and by the fallback", () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256);
    expect(hexOf(bytes, true)).toBe(hexOf(bytes, false));
    expect(hexOf(new Uint8Array([0, 15, 16, 255]), true)).toBe("000f10ff");
  });
});
