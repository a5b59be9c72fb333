/** Standard base64 of bytes and back, with btoa/atob (in workerd and Node alike). */

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** @throws Error when `text` is not standard base64 */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error("not standard base64");
  }
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}
