// Runs inside workerd: the same signing code as in Node (the standardwebhooks package) gives the
// Standard Webhooks specification's example signature, and WebCrypto's HMAC agrees with it.
import { describe, expect, it } from "vitest";
import { createWebhookSigner } from "./webhook-signature.ts";

describe("webhook signing in workerd", () => {
  it("reproduces the specification's example", () => {
    const headers = createWebhookSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign({
      id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
      timestampSeconds: 1614265330,
      body: '{"test": 2432232314}',
    });
    expect(headers["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("agrees with WebCrypto HMAC-SHA256", async () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const secret = `whsec_${btoa(String.fromCharCode(...raw))}`;
    const body = JSON.stringify({ specversion: "1.0", id: "a-1", data: { psi: 0.31 } });
    const h = createWebhookSigner(secret).sign({
      id: "a-1",
      timestampSeconds: 1_795_000_000,
      body,
    });
    const key = await crypto.subtle.importKey(
      "raw",
      raw,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = new Uint8Array(
      await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`a-1.1795000000.${body}`)),
    );
    expect(h["webhook-signature"]).toBe(`v1,${btoa(String.fromCharCode(...mac))}`);
  });
});
