/** keys:create and keys:revoke write the audit log (real PostgreSQL, real Upstash REST server). */

import { randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_UPSTASH } from "../test/support/local-stack";
import { TestSchema } from "../test/support/test-schema";
import { tenantKeysRedisKey } from "./keys-common";
import { createApiKey } from "./keys-create";
import { revokeApiKey } from "./keys-revoke";

const testSchema = new TestSchema("test_keys_audit");
const schema = testSchema.name;
const redisConfig = LOCAL_UPSTASH;
const redis = new Redis({ ...redisConfig, enableTelemetry: false });
const databaseUrl = testSchema.databaseUrl;
const tenant = `audit-${randomUUID().slice(0, 8)}`;

let admin: pg.Pool;

beforeAll(async () => {
  admin = await testSchema.create();
});

afterAll(async () => {
  await testSchema.drop();
});

const entries = async () =>
  (
    await admin.query(
      `SELECT actor_kind, actor_id, request_id, action, target, before_state, after_state
         FROM ${schema}.audit_log WHERE tenant_id = $1 ORDER BY entry_id`,
      [tenant],
    )
  ).rows;

describe("keys commands and the audit log", () => {
  it("records one entry for a create and one for a revoke, naming the key by id only", async () => {
    const created = await createApiKey({
      tenant,
      roles: ["admin"],
      origins: [],
      name: "ops",
      redis: redisConfig,
      databaseUrl,
    });
    const keyId = created.record.keyId;
    await revokeApiKey({ tenant, target: { keyId }, redis: redisConfig, databaseUrl });
    // A second revoke changes nothing, so it records nothing.
    await revokeApiKey({ tenant, target: { keyId }, redis: redisConfig, databaseUrl });

    const rows = await entries();
    expect(rows.map((r) => [r.action, r.target, r.actor_kind])).toEqual([
      ["api-key.create", `api-key:${keyId}`, "operator"],
      ["api-key.revoke", `api-key:${keyId}`, "operator"],
    ]);
    expect(rows[0].after_state).toMatchObject({ keyId, roles: ["admin"], name: "ops" });
    expect(rows[1].after_state).toMatchObject({ keyId, revoked: true });
    expect(rows[0].request_id).toMatch(/^cli-/);
    const text = JSON.stringify(rows);
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(created.record.keyHash);
  });

  it("creates no key when the audit entry cannot be written", async () => {
    await admin.query(`ALTER TABLE ${schema}.audit_log RENAME TO audit_log_away`);
    try {
      await expect(
        createApiKey({ tenant, roles: ["read"], origins: [], redis: redisConfig, databaseUrl }),
      ).rejects.toThrow(/audit_log/);
    } finally {
      await admin.query(`ALTER TABLE ${schema}.audit_log_away RENAME TO audit_log`);
    }
    const keys = await admin.query(
      `SELECT key_id, key_hash FROM ${schema}.api_keys WHERE tenant_id = $1 AND revoked_at IS NULL`,
      [tenant],
    );
    expect(keys.rows).toEqual([]);
    const index = await redis.hgetall(tenantKeysRedisKey(tenant));
    // Only the revoked key of the first test is indexed; nothing reached Redis for this one.
    expect(Object.keys(index ?? {})).toHaveLength(1);
    expect(await entries()).toHaveLength(2);
  });
});
