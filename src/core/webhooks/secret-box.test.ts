// Sealing round-trips, and node:crypto's own AES-256-GCM (an independent implementation) opens
// what WebCrypto sealed; any altered byte, another key or another owner is refused.
import { createDecipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import {
  importWebhookEncryptionKey,
  LOCAL_WEBHOOK_ENCRYPTION_KEY,
  openWebhookSecret,
  sealWebhookSecret,
} from "./secret-box.ts";
import { generateWebhookSecret } from "./webhook-secret.ts";

const owner = { tenant: "acme", endpointId: "0b9c2f9e-7f3e-4f53-9b7e-0d7c1c2e5a10" };
const otherKey = Buffer.alloc(32, 7).toString("base64");

describe("webhook secret sealing", () => {
  it("round-trips and seals each time with a new IV", async () => {
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    const secret = generateWebhookSecret();
    const a = await sealWebhookSecret(key, secret, owner);
    const b = await sealWebhookSecret(key, secret, owner);
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret.slice(6));
    expect(await openWebhookSecret(key, a, owner)).toEqual({ ok: true, secret });
    expect(await openWebhookSecret(key, b, owner)).toEqual({ ok: true, secret });
  });

  it("is AES-256-GCM with the tenant and endpoint as associated data (checked with node:crypto)", async () => {
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    const sealed = await sealWebhookSecret(key, "whsec_abc", owner);
    const [version, iv, body] = sealed.split(".") as [string, string, string];
    expect(version).toBe("v1");
    const bytes = Buffer.from(body, "base64");
    const decipher = createDecipheriv(
      "aes-256-gcm",
      Buffer.from(LOCAL_WEBHOOK_ENCRYPTION_KEY, "base64"),
      Buffer.from(iv, "base64"),
    );
    decipher.setAAD(Buffer.from(`driftline-webhook-secret\u0000acme\u0000${owner.endpointId}`));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - 16)),
      decipher.final(),
    ]);
    expect(plain.toString("utf8")).toBe("whsec_abc");
  });

  it("refuses a flipped bit anywhere, another key, another tenant or another endpoint", async () => {
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    const sealed = await sealWebhookSecret(key, "whsec_abc", owner);
    const [v, iv, body] = sealed.split(".") as [string, string, string];
    const flip = (b64: string, at: number) => {
      const bytes = Buffer.from(b64, "base64");
      bytes[at] = (bytes[at] ?? 0) ^ 1;
      return bytes.toString("base64");
    };
    const bodyLength = Buffer.from(body, "base64").length;
    const tampered = [
      `${v}.${flip(iv, 0)}.${body}`,
      `${v}.${iv}.${flip(body, 0)}`,
      `${v}.${iv}.${flip(body, bodyLength - 1)}`,
    ];
    for (const t of tampered) {
      expect((await openWebhookSecret(key, t, owner)).ok).toBe(false);
    }
    const other = await importWebhookEncryptionKey(otherKey);
    expect((await openWebhookSecret(other, sealed, owner)).ok).toBe(false);
    expect((await openWebhookSecret(key, sealed, { ...owner, tenant: "globex" })).ok).toBe(false);
    expect((await openWebhookSecret(key, sealed, { ...owner, endpointId: "other" })).ok).toBe(
      false,
    );
  });

  it.each([
    ["", "wrong version"],
    ["v2.AAAA.AAAA", "wrong version"],
    ["v1.%%%.AAAA", "not base64"],
    ["v1.AAAA.AAAA", "short IV"],
  ])("refuses the malformed %j (%s) as a value, not an exception", async (stored) => {
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    const opened = await openWebhookSecret(key, stored, owner);
    expect(opened.ok).toBe(false);
  });

  it.each([
    ["not base64", "%%%"],
    ["16 bytes", Buffer.alloc(16).toString("base64")],
    ["33 bytes", Buffer.alloc(33).toString("base64")],
  ])("refuses a key of %s, naming WEBHOOK_ENCRYPTION_KEY", async (_what, key) => {
    await expect(importWebhookEncryptionKey(key)).rejects.toThrow(ConfigError);
    await expect(importWebhookEncryptionKey(key)).rejects.toThrow(/WEBHOOK_ENCRYPTION_KEY/);
  });

  it("documents the local key as the bytes 0..31", () => {
    expect([...Buffer.from(LOCAL_WEBHOOK_ENCRYPTION_KEY, "base64")]).toEqual(
      Array.from({ length: 32 }, (_, i) => i),
    );
  });
});
