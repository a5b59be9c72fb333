import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, ValidationError } from "../errors.ts";
import { createWebhookSigner } from "./webhook-signature.ts";

/** The Standard Webhooks signature written out with node:crypto (the independent reference). */
function referenceSignature(secret: string, id: string, ts: number, body: string): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64")}`;
}

describe("createWebhookSigner", () => {
  // The specification's own example (standard-webhooks/spec.md).
  it("reproduces the specification's example", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const body = '{"test": 2432232314}';
    const headers = createWebhookSigner(secret).sign({
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestampSeconds: 1614265330,
      body,
    });
    expect(headers).toEqual({
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });

  it("matches HMAC-SHA256 over id.timestamp.body for random secrets and bodies", () => {
    for (let i = 0; i < 20; i++) {
      const secret = `whsec_${randomBytes(24 + i).toString("base64")}`;
      const body = JSON.stringify({ i, text: "ünïcødé ✓", n: Math.random() });
      const ts = 1_700_000_000 + i;
      const h = createWebhookSigner(secret).sign({ id: `evt-${i}`, timestampSeconds: ts, body });
      expect(h["webhook-signature"]).toBe(referenceSignature(secret, `evt-${i}`, ts, body));
    }
  });

  it("verifies its own deliveries and rejects tampering or stale ones", () => {
    const secret = `whsec_${randomBytes(32).toString("base64")}`;
    const signer = createWebhookSigner(secret);
    const now = Math.floor(Date.now() / 1000);
    const body = '{"a":1}';
    const headers = signer.sign({ id: "a1", timestampSeconds: now, body });
    expect(() => signer.verify(body, { ...headers })).not.toThrow();
    expect(() => signer.verify('{"a":2}', { ...headers })).toThrow(ValidationError);
    const old = signer.sign({ id: "a1", timestampSeconds: now - 3600, body });
    expect(() => signer.verify(body, { ...old })).toThrow(/timestamp/i);
  });

  it("refuses malformed secrets and ids with a message saying what to fix", () => {
    expect(() => createWebhookSigner("secret")).toThrow(ConfigError);
    expect(() => createWebhookSigner(`whsec_${randomBytes(8).toString("base64")}`)).toThrow(
      /24 to 64/,
    );
    const signer = createWebhookSigner(`whsec_${randomBytes(24).toString("base64")}`);
    expect(() => signer.sign({ id: "a b", timestampSeconds: 1, body: "" })).toThrow(/id/);
    expect(() => signer.sign({ id: "a", timestampSeconds: 1.5, body: "" })).toThrow(/timestamp/);
  });
});
