/**
 * The audit log inside workerd against real Postgres (the test schema, through the relay) and real
 * Redis for keys: every admin route leaves exactly one entry with its actor, request id, before and
 * after; refused requests leave none; no secret reaches the log; `GET /v1/audit` is admin-only and
 * tenant-isolated, filters and pages; and the table refuses UPDATE, DELETE and TRUNCATE.
 */
import { describe, expect, it } from "vitest";
import { apiKeyRedisKey, generateApiKey, type Role } from "#core/api-keys";
import { auditServices } from "../../src/audit/audit-services";
import { sql } from "./read-db";
import {
  createKeyWithRecord,
  rawEnv,
  redis,
  testApp,
  uniqueTenant,
  uploadFixture,
} from "./support";

const TOKEN = "EAAGm0PX4ZCpsBAKZCZCauditTOKENvalue9876";

interface Entry {
  id: string;
  recordedAt: string;
  actor: { kind: string; keyId?: string };
  requestId: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}
interface Page {
  data: Entry[];
  nextCursor?: string;
}

async function keyFor(tenant: string, roles: Role[]): Promise<{ key: string; keyId: string }> {
  const { key, record } = await generateApiKey({ tenant, roles, origins: [] });
  await redis().set(apiKeyRedisKey(record.keyHash), record);
  return { key, keyId: record.keyId };
}

describe("the audit log", () => {
  const app = testApp();
  const audit = async (key: string, query = "") => {
    const res = await app.fetch(`/v1/audit${query}`, { key });
    return { status: res.status, body: (await res.json()) as Page };
  };

  it("records each admin action once, with actor, request id, before and after, and no secret", async () => {
    const tenant = uniqueTenant("audit");
    const admin = await keyFor(tenant, ["admin"]);
    const expected: { action: string; requestId: string }[] = [];
    const secrets: string[] = [admin.key, TOKEN];
    const done = async (action: string, res: Response, status: number) => {
      const text = await res.text();
      expect(res.status, `${action}: ${text}`).toBe(status);
      expected.push({ action, requestId: res.headers.get("x-request-id") ?? "" });
      return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
    };

    const hook = await done(
      "webhook.create",
      await app.fetch("/v1/webhooks", {
        key: admin.key,
        json: { url: "http://127.0.0.1:9/audit-hook", types: [] },
      }),
      201,
    );
    secrets.push(String(hook.secret));
    await done(
      "webhook.delete",
      await app.fetch(`/v1/webhooks/${hook.id}`, { method: "DELETE", key: admin.key }),
      204,
    );
    const dest = await done(
      "destination.create",
      await app.fetch("/v1/destinations", {
        key: admin.key,
        json: { kind: "meta", pixelId: "1234567890123456", accessToken: TOKEN },
      }),
      201,
    );
    await done(
      "destination.delete",
      await app.fetch(`/v1/destinations/${dest.id}`, { method: "DELETE", key: admin.key }),
      204,
    );
    await done(
      "monitoring-settings.update",
      await app.fetch("/v1/settings/monitoring", {
        method: "PUT",
        key: admin.key,
        json: { drift: { psiThreshold: 0.2 } },
      }),
      200,
    );
    await done("model.upload", await uploadFixture(app, admin.key, "linear", "audited", "1"), 201);
    await done("model.upload", await uploadFixture(app, admin.key, "linear", "audited", "2"), 201);
    const promote = (version: string) =>
      app.fetch("/v1/models/audited/promote", { key: admin.key, json: { version } });
    await done("model.promote", await promote("2"), 200);
    await done("model.rollback", await promote("1"), 200);
    const scorer = await createKeyWithRecord(tenant, ["score"]);
    await done(
      "api-key.update",
      await app.fetch(`/v1/keys/${scorer.record.keyId}`, {
        method: "PATCH",
        key: admin.key,
        json: { rateLimit: { requests: 600, windowSeconds: 60 } },
      }),
      200,
    );
    const rotated = await done(
      "api-key.rotate",
      await app.fetch(`/v1/keys/${scorer.record.keyId}/rotate`, {
        key: admin.key,
        json: { gracePeriodSeconds: 60 },
      }),
      201,
    );
    secrets.push(scorer.key, String(rotated.key));

    // Refused requests change nothing and record nothing.
    const missing = crypto.randomUUID();
    expect(
      (await app.fetch(`/v1/webhooks/${missing}`, { method: "DELETE", key: admin.key })).status,
    ).toBe(404);
    expect((await promote("9")).status).toBe(404);
    expect((await uploadFixture(app, admin.key, "linear", "audited", "1")).status).toBe(409);

    const { status, body } = await audit(admin.key);
    expect(status).toBe(200);
    // Newest first.
    const entries = [...body.data].reverse();
    expect(entries.map((e) => [e.action, e.requestId])).toEqual(
      expected.map((e) => [e.action, e.requestId]),
    );
    for (const e of entries) {
      expect(e.actor).toEqual({ kind: "api-key", keyId: admin.keyId });
    }
    const byAction = (a: string) => entries.filter((e) => e.action === a);
    expect(byAction("webhook.create")[0]).toMatchObject({
      target: `webhook:${hook.id}`,
      before: null,
      after: { id: hook.id, url: "http://127.0.0.1:9/audit-hook" },
    });
    expect(byAction("webhook.delete")[0]).toMatchObject({ before: { id: hook.id }, after: null });
    expect(byAction("destination.create")[0]?.after).toMatchObject({
      id: dest.id,
      tokenHint: TOKEN.slice(-4),
    });
    expect(byAction("monitoring-settings.update")[0]).toMatchObject({
      before: null,
      after: { overrides: { drift: { psiThreshold: 0.2 } } },
    });
    expect(byAction("model.upload")[0]?.after).toMatchObject({
      version: "1",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(byAction("api-key.update")[0]).toMatchObject({
      target: `api-key:${scorer.record.keyId}`,
      before: { keyId: scorer.record.keyId, rateLimit: null },
      after: { keyId: scorer.record.keyId, rateLimit: { requests: 600, windowSeconds: 60 } },
    });
    expect(byAction("api-key.rotate")[0]).toMatchObject({
      target: `api-key:${scorer.record.keyId}`,
      after: { keyId: scorer.record.keyId, expiresAt: expect.any(String) },
    });
    expect(byAction("model.rollback")[0]).toMatchObject({
      before: { pointer: { champion: "2" } },
      after: { champion: "1" },
    });

    // The stored rows, not only the answer, hold no key, token or webhook secret.
    const rows = await sql("SELECT * FROM audit_log WHERE tenant_id = $1", [tenant]);
    expect(rows).toHaveLength(expected.length);
    const stored = JSON.stringify(rows) + JSON.stringify(body);
    for (const secret of secrets) expect(stored).not.toContain(secret);
  });

  it("answers each tenant its own entries only, to admin keys only", async () => {
    const acme = uniqueTenant("audit-a");
    const globex = uniqueTenant("audit-g");
    const acmeAdmin = await keyFor(acme, ["admin"]);
    const acmeRead = await keyFor(acme, ["read", "score", "ingest"]);
    const globexAdmin = await keyFor(globex, ["admin"]);
    for (const [key, n] of [
      [acmeAdmin.key, 3],
      [globexAdmin.key, 2],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const res = await app.fetch("/v1/settings/monitoring", {
          method: "PUT",
          key,
          json: { drift: { psiThreshold: 0.1 + i / 100 } },
        });
        expect(res.status).toBe(200);
      }
    }

    const mine = await audit(acmeAdmin.key);
    const theirs = await audit(globexAdmin.key);
    expect(mine.body.data).toHaveLength(3);
    expect(theirs.body.data).toHaveLength(2);
    expect(mine.body.data.every((e) => e.actor.keyId === acmeAdmin.keyId)).toBe(true);
    expect(theirs.body.data.every((e) => e.actor.keyId === globexAdmin.keyId)).toBe(true);
    const ids = new Set(mine.body.data.map((e) => e.id));
    expect(theirs.body.data.some((e) => ids.has(e.id))).toBe(false);

    // A read key of the same tenant, no key, and a bad key.
    expect((await audit(acmeRead.key)).status).toBe(403);
    expect((await app.fetch("/v1/audit")).status).toBe(401);
    expect((await audit(`${acmeAdmin.key.slice(0, -2)}xx`)).status).toBe(401);
    // A cursor from another tenant's page reads nothing of that tenant.
    const globexFirst = await audit(globexAdmin.key, "?limit=1");
    const crossed = await audit(acmeAdmin.key, `?cursor=${globexFirst.body.nextCursor}`);
    expect(crossed.body.data.every((e) => ids.has(e.id))).toBe(true);
  });

  it("filters by action and time and pages without gaps or repeats", async () => {
    const tenant = uniqueTenant("audit-p");
    const admin = await keyFor(tenant, ["admin"]);
    for (let i = 0; i < 5; i++) {
      const res = await app.fetch("/v1/settings/monitoring", {
        method: "PUT",
        key: admin.key,
        json: { drift: { psiThreshold: 0.1 + i / 100 } },
      });
      expect(res.status).toBe(200);
    }
    const hook = await app.fetch("/v1/webhooks", {
      key: admin.key,
      json: { url: "http://127.0.0.1:9/paged" },
    });
    expect(hook.status).toBe(201);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await audit(admin.key, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => b - a));

    const hooks = await audit(admin.key, "?action=webhook.create");
    expect(hooks.body.data.map((e) => e.action)).toEqual(["webhook.create"]);
    const first = (await audit(admin.key)).body.data.at(-1)!;
    const before = await audit(admin.key, `?to=${encodeURIComponent(first.recordedAt)}`);
    expect(before.body.data).toEqual([]);
    const bad = await audit(admin.key, "?action=keys.steal");
    expect(bad.status).toBe(400);
  });

  it("refuses UPDATE, DELETE and TRUNCATE of entries in the database itself", async () => {
    const tenant = uniqueTenant("audit-x");
    const admin = await keyFor(tenant, ["admin"]);
    const res = await app.fetch("/v1/settings/monitoring", {
      method: "PUT",
      key: admin.key,
      json: {},
    });
    expect(res.status).toBe(200);
    const attempts = [
      ["UPDATE audit_log SET action = 'webhook.create' WHERE tenant_id = $1", [tenant]],
      ["UPDATE audit_log SET after_state = NULL WHERE tenant_id = $1", [tenant]],
      ["DELETE FROM audit_log WHERE tenant_id = $1", [tenant]],
      ["TRUNCATE audit_log", []],
    ] as const;
    for (const [text, values] of attempts) {
      await expect(sql(text, [...values]), text).rejects.toThrow(/audit_log is append-only/);
    }
    const rows = await sql("SELECT action, after_state FROM audit_log WHERE tenant_id = $1", [
      tenant,
    ]);
    expect(rows).toEqual([
      { action: "monitoring-settings.update", after_state: { overrides: {} } },
    ]);
  });

  it("makes no change when the audit entry cannot be written", async () => {
    const broken = testApp();
    // The real adapter, pointed at a database that is not there (port 1): every append fails.
    broken.services.audit = auditServices({
      databaseUrl: "postgres://postgres@127.0.0.1:1/none",
      wsRelayUrl: String(rawEnv.NEON_WS_RELAY_URL),
    });
    const tenant = uniqueTenant("audit-down");
    const admin = await keyFor(tenant, ["admin"]);
    const res = await broken.fetch("/v1/webhooks", {
      key: admin.key,
      json: { url: "http://127.0.0.1:9/never" },
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(body.error.message).toMatch(/^Nothing was changed: the audit log could not record/);
    const put = await broken.fetch("/v1/settings/monitoring", {
      method: "PUT",
      key: admin.key,
      json: { drift: { psiThreshold: 0.3 } },
    });
    expect(put.status).toBe(503);
    expect(await sql("SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1", [tenant])).toEqual([]);
    expect(await sql("SELECT 1 FROM monitoring_settings WHERE tenant_id = $1", [tenant])).toEqual(
      [],
    );
  });
});
