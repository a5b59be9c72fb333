/** Standard Webhooks signing and verification of alert deliveries (`webhook-id`, `webhook-timestamp`, `webhook-signature`). */

import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { ConfigError, ValidationError } from "../errors.ts";

// The `standardwebhooks` package (the spec authors' reference library) is pure JavaScript
// (fast-sha256, @stablelib/base64, globalThis.TextEncoder) and synchronous, so the same code
// signs in Node and in workerd; tests check it against node:crypto's HMAC and under workerd.

/** The three headers of a signed delivery. */
export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

const SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/**
 * Prepares a signing secret `whsec_<base64>` (24–64 random bytes per the specification).
 * @throws ConfigError saying what a valid secret looks like
 */
export function createWebhookSigner(secret: string): {
  sign(input: { id: string; timestampSeconds: number; body: string }): WebhookHeaders;
  verify(body: string, headers: Record<string, string>): void;
} {
  if (!SECRET.test(secret)) {
    throw new ConfigError(
      "A webhook secret must look like whsec_<base64 of 24 to 64 random bytes> (Standard Webhooks).",
    );
  }
  const bytes = Math.floor(((secret.length - 6) * 3) / 4) - (secret.match(/=+$/)?.[0].length ?? 0);
  if (bytes < 24 || bytes > 64) {
    throw new ConfigError(
      `A webhook secret must hold 24 to 64 random bytes; this one holds ${bytes}.`,
    );
  }
  const webhook = new Webhook(secret);
  return {
    sign({ id, timestampSeconds, body }) {
      if (id.length === 0 || /[\s,]/.test(id)) {
        throw new ValidationError("a webhook id must be non-empty without spaces or commas", [
          { field: "id", message: "must be non-empty without spaces or commas" },
        ]);
      }
      if (!Number.isInteger(timestampSeconds) || timestampSeconds < 0) {
        throw new ValidationError("a webhook timestamp is whole seconds since the epoch", [
          { field: "timestampSeconds", message: "must be a non-negative integer" },
        ]);
      }
      return {
        "webhook-id": id,
        "webhook-timestamp": String(timestampSeconds),
        "webhook-signature": webhook.sign(id, new Date(timestampSeconds * 1000), body),
      };
    },
    /**
     * Checks a delivery as a receiver would (signature and a timestamp within 5 minutes of now).
     * @throws ValidationError when it does not verify
     */
    verify(body, headers) {
      try {
        webhook.verify(body, headers, { jsonParse: false });
      } catch (error) {
        if (error instanceof WebhookVerificationError) {
          throw new ValidationError(`webhook does not verify: ${error.message}`, [
            { field: "webhook-signature", message: error.message },
          ]);
        }
        throw error;
      }
    },
  };
}
