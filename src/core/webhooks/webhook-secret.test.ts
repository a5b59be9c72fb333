// New secrets are Standard Webhooks secrets: the standardwebhooks library signs and verifies with
// them, and the core's signer accepts them.
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { createWebhookSigner } from "../monitoring/webhook-signature.ts";
import { generateWebhookSecret, WEBHOOK_SECRET_PATTERN } from "./webhook-secret.ts";

describe("generateWebhookSecret", () => {
  it("makes whsec_ + base64 of 32 random bytes, different every time", () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(WEBHOOK_SECRET_PATTERN);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it("signs deliveries the standardwebhooks library verifies", () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ specversion: "1.0", id: "e-1" });
    const now = Math.floor(Date.now() / 1000);
    const headers = createWebhookSigner(secret).sign({ id: "e-1", timestampSeconds: now, body });
    expect(() => new Webhook(secret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
  });
});
