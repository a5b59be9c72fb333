import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  API_KEY_PATTERN,
  ApiKeyRecordSchema,
  generateApiKey,
  hashApiKey,
  timingSafeEqualText,
} from "./api-key.ts";

describe("API keys", () => {
  it("are dl_ + 43 base64url characters, distinct, with a record holding only the hash", async () => {
    const a = await generateApiKey({ tenant: "shop-1", roles: ["score", "score", "ingest"] });
    const b = await generateApiKey({ tenant: "shop-1", roles: ["admin"] });
    expect(a.key).toMatch(/^dl_[A-Za-z0-9_-]{43}$/);
    expect(API_KEY_PATTERN.test(a.key)).toBe(true);
    expect(a.key).not.toBe(b.key);
    expect(a.record.keyId).not.toBe(b.record.keyId);
    expect(a.record.roles).toEqual(["score", "ingest"]);
    expect(ApiKeyRecordSchema.parse(a.record)).toEqual(a.record);
    expect(JSON.stringify(a.record)).not.toContain(a.key.slice(3));
  });

  it("hash to the hex SHA-256 of the key's UTF-8 bytes (what Postgres api_keys stores)", async () => {
    const { key, record } = await generateApiKey({ tenant: "t", roles: ["score"] });
    const expected = createHash("sha256").update(key, "utf8").digest("hex");
    expect(record.keyHash).toBe(expected);
    expect(await hashApiKey(key)).toBe(expected);
  });

  it("refuse invalid tenants", async () => {
    await expect(generateApiKey({ tenant: "no spaces", roles: ["score"] })).rejects.toThrow();
  });
});

describe("timingSafeEqualText", () => {
  it.each([
    ["abc", "abc", true],
    ["abc", "abd", false],
    ["abc", "ab", false],
    ["", "", true],
    ["a".repeat(64), `${"a".repeat(63)}b`, false],
  ])("%j vs %j → %s", (a, b, expected) => {
    expect(timingSafeEqualText(a, b)).toBe(expected);
  });
});
