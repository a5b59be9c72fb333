import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { importEntityIdKey, keyEntityId } from "#core/privacy";
import { HmacEntityIdKeyer } from "./hmac-entity-id-keyer";

const reference = (secret: string, tenant: string, entityId: string) =>
  createHmac("sha256", secret).update(`${tenant}\u0000${entityId}`).digest("hex");

describe("HmacEntityIdKeyer", () => {
  it("matches node:crypto's HMAC-SHA-256, call after call on the reused state", async () => {
    const secret = "entity-secret";
    const keyer = new HmacEntityIdKeyer(secret);
    const inputs: [string, string][] = [
      ["t1", "u-1"],
      ["t1", "u-1"],
      ["t2", "u-1"],
      ["t1", ""],
      ["tenant", "ünïcødé 👤"],
      ["t", "x".repeat(300)],
      ["t1", "u-1"],
    ];
    for (const [tenant, entityId] of inputs) {
      expect(await keyer.key(tenant, entityId)).toBe(reference(secret, tenant, entityId));
    }
  });

  it("keys with its own secret: other secrets give other keys", async () => {
    const a = await new HmacEntityIdKeyer("secret-a").key("t", "u-1");
    const b = await new HmacEntityIdKeyer("secret-b").key("t", "u-1");
    expect(a).toBe(reference("secret-a", "t", "u-1"));
    expect(b).toBe(reference("secret-b", "t", "u-1"));
    expect(a).not.toBe(b);
  });

  it("takes a secret longer than SHA-256's block (hashed first, as RFC 2104 says)", async () => {
    const secret = "k".repeat(100);
    expect(await new HmacEntityIdKeyer(secret).key("t", "e")).toBe(reference(secret, "t", "e"));
  });

  it("equals the core's keyEntityId, with which an erasure finds the entity's predictions", async () => {
    const secret = "entity-secret";
    const key = await importEntityIdKey(secret);
    for (const [tenant, entityId] of [
      ["t1", "u-1"],
      ["acme", "ünïcødé 👤"],
    ] as const) {
      expect(await new HmacEntityIdKeyer(secret).key(tenant, entityId)).toBe(
        await keyEntityId(key, tenant, entityId),
      );
    }
  });
});
