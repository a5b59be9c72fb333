/** Per-endpoint Standard Webhooks signing secrets: `whsec_` + base64 of random bytes. */
import { bytesToBase64 } from "./base64.ts";

/** Random bytes behind a new secret: the specification asks for 24 to 64; 32 matches HMAC-SHA256's block of key material. */
export const WEBHOOK_SECRET_BYTES = 32;

export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/** A fresh `whsec_…` secret from the platform's CSPRNG (WebCrypto). */
export function generateWebhookSecret(): string {
  return `whsec_${bytesToBase64(crypto.getRandomValues(new Uint8Array(WEBHOOK_SECRET_BYTES)))}`;
}
