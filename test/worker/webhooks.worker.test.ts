/**
 * Tenant webhooks inside workerd against real Postgres (the test schema, through the relay), real
 * Redis for keys, and a real receiver on 127.0.0.1 that verifies each delivery with the
 * `standardwebhooks` library and the secret from the 201: deliveries, the delivery log, tenant
 * isolation, roles, URL rules, the per-tenant cap, and that the secret is never shown again.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { sql } from "./read-db";
import { createKey, type ErrorJson, testApp, uniqueTenant } from "./support";

const RECEIVER = inject("webhookReceiverUrl");
const TIMEOUT_MS = 1_000;

interface Created {
  id: string;
  url: string;
  types: string[];
  secret: string;
  createdAt: string;
}

interface Received {
  headers: Record<string, string>;
  body: string;
  verified: boolean;
  verifyError?: string;
}

/** Everything the Worker writes to the console while these tests run (to look for secrets). */
const logged: string[] = [];
const originals = new Map<string, (...args: unknown[]) => void>();

beforeAll(() => {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[level].bind(console);
    originals.set(level, original);
    console[level] = (...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      original(...args);
    };
  }
});
afterAll(() => {
  for (const [level, original] of originals) {
    (console as unknown as Record<string, unknown>)[level] = original;
  }
});

const channel = () => `c${crypto.randomUUID().slice(0, 8)}`;
const hookUrl = (ch: string, query = "") => `${RECEIVER}/hooks/${ch}${query}`;

async function received(ch: string): Promise<Received[]> {
  return (await (await fetch(`${RECEIVER}/received/${ch}`)).json()) as Received[];
}

describe("tenant webhooks", () => {
  const app = testApp({ WEBHOOK_TEST_TIMEOUT_MS: String(TIMEOUT_MS) });
  const secrets: string[] = [];
  let acme: { tenant: string; admin: string; read: string };
  let globex: { tenant: string; admin: string; read: string };

  const call = async (method: string, path: string, key: string, json?: unknown) => {
    const res = await app.fetch(path, { method, key, ...(json === undefined ? {} : { json }) });
    const text = await res.text();
    return {
      status: res.status,
      text,
      body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> & ErrorJson,
    };
  };

  /** Registers an endpoint at a fresh receiver channel and hands the receiver its secret. */
  async function register(
    key: string,
    query = "",
    types?: string[],
  ): Promise<{ ch: string; endpoint: Created }> {
    const ch = channel();
    const res = await call("POST", "/v1/webhooks", key, {
      url: hookUrl(ch, query),
      ...(types === undefined ? {} : { types }),
    });
    expect(res.status, res.text).toBe(201);
    const endpoint = res.body as unknown as Created;
    secrets.push(endpoint.secret);
    await fetch(`${RECEIVER}/secrets/${ch}`, { method: "PUT", body: endpoint.secret });
    return { ch, endpoint };
  }

  beforeAll(async () => {
    const make = async (label: string) => {
      const tenant = uniqueTenant(label);
      return {
        tenant,
        admin: await createKey(tenant, ["admin"]),
        read: await createKey(tenant, ["read"]),
      };
    };
    acme = await make("hooks-acme");
    globex = await make("hooks-globex");
  }, 30_000);

  it("registers an endpoint with its own whsec_ secret, shown once", async () => {
    const { endpoint } = await register(acme.admin, "", ["dev.driftline.drift.changed"]);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(endpoint.types).toEqual(["dev.driftline.drift.changed"]);
    expect(endpoint.id).toMatch(/^[0-9a-f-]{36}$/);
    const other = await register(acme.admin);
    expect(other.endpoint.secret).not.toBe(endpoint.secret);
    expect(other.endpoint.types).toEqual([]);

    // At rest the secret is sealed, not stored in clear.
    const [row] = await sql(
      "SELECT secret_sealed FROM webhook_endpoints WHERE tenant_id = $1 AND endpoint_id = $2",
      [acme.tenant, endpoint.id],
    );
    expect(String(row?.secret_sealed)).toMatch(/^v1\./);
    expect(String(row?.secret_sealed)).not.toContain(endpoint.secret.slice(6));
  });

  it("sends a signed test event the receiver verifies with the secret from the 201", async () => {
    const { ch, endpoint } = await register(acme.admin);
    const res = await call("POST", `/v1/webhooks/${endpoint.id}/test`, acme.admin);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ delivered: true, statusCode: 204 });
    const [delivery, ...more] = await received(ch);
    expect(more).toHaveLength(0);
    expect(delivery?.verifyError).toBeUndefined();
    expect(delivery?.verified).toBe(true);
    expect(delivery?.headers["webhook-id"]).toBe(res.body.eventId);
    expect(delivery?.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
    const event = JSON.parse(delivery?.body ?? "{}") as Record<string, unknown>;
    expect(event).toMatchObject({
      specversion: "1.0",
      id: res.body.eventId,
      type: "dev.driftline.webhook.test",
      subject: endpoint.id,
    });

    // The receiver refuses it with another endpoint's secret: the signature is per endpoint.
    const other = await register(acme.admin);
    await fetch(`${RECEIVER}/secrets/${other.ch}`, { method: "PUT", body: endpoint.secret });
    await call("POST", `/v1/webhooks/${other.endpoint.id}/test`, acme.admin);
    expect((await received(other.ch))[0]?.verified).toBe(false);
  });

  it("records every attempt; failures say why, newest first, paged by cursor", async () => {
    const ok = await register(acme.admin);
    const failing = await register(acme.admin, "?status=500");
    const slow = await register(acme.admin, `?delayMs=${TIMEOUT_MS * 3}`);

    const bad = await call("POST", `/v1/webhooks/${failing.endpoint.id}/test`, acme.admin);
    expect(bad.body).toMatchObject({ delivered: false, statusCode: 500, error: "HTTP 500" });
    const late = await call("POST", `/v1/webhooks/${slow.endpoint.id}/test`, acme.admin);
    expect(late.body).toMatchObject({
      delivered: false,
      error: `no response within ${TIMEOUT_MS} ms`,
    });
    expect(late.body.statusCode).toBeUndefined();

    const events: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call("POST", `/v1/webhooks/${ok.endpoint.id}/test`, acme.admin);
      events.push(String(r.body.eventId));
    }
    const first = await call("GET", `/v1/webhooks/${ok.endpoint.id}/deliveries?limit=2`, acme.read);
    expect(first.status, first.text).toBe(200);
    const page1 = first.body.data as Record<string, unknown>[];
    expect(page1.map((d) => d.eventId)).toEqual([events[2], events[1]]);
    expect(page1[0]).toMatchObject({
      eventType: "dev.driftline.webhook.test",
      attempt: 1,
      status: "delivered",
      statusCode: 204,
    });
    const next = await call(
      "GET",
      `/v1/webhooks/${ok.endpoint.id}/deliveries?limit=2&cursor=${first.body.nextCursor}`,
      acme.read,
    );
    expect((next.body.data as Record<string, unknown>[]).map((d) => d.eventId)).toEqual([
      events[0],
    ]);
    expect(next.body.nextCursor).toBeUndefined();

    const failed = await call("GET", `/v1/webhooks/${failing.endpoint.id}/deliveries`, acme.read);
    expect(failed.body.data).toEqual([
      expect.objectContaining({ status: "failed", statusCode: 500, error: "HTTP 500" }),
    ]);
  });

  it("never shows a secret again: not in GET, not in the delivery log, not in logs", async () => {
    const { endpoint } = await register(acme.admin);
    await call("POST", `/v1/webhooks/${endpoint.id}/test`, acme.admin);
    const list = await call("GET", "/v1/webhooks", acme.read);
    expect(list.status).toBe(200);
    const mine = (list.body.data as Record<string, unknown>[]).find((e) => e.id === endpoint.id);
    expect(mine).toEqual({
      id: endpoint.id,
      url: endpoint.url,
      types: [],
      createdAt: endpoint.createdAt,
    });
    const deliveries = await call("GET", `/v1/webhooks/${endpoint.id}/deliveries`, acme.read);
    for (const text of [list.text, deliveries.text, ...logged]) {
      for (const secret of secrets) {
        expect(text).not.toContain(secret.slice(6));
      }
      expect(text).not.toMatch(/whsec_|"v1\.[A-Za-z0-9+/]/);
    }
  });

  it("keeps tenants apart: another tenant cannot list, delete, test or read deliveries (404)", async () => {
    const { ch, endpoint } = await register(acme.admin);
    await call("POST", `/v1/webhooks/${endpoint.id}/test`, acme.admin);
    const listed = await call("GET", "/v1/webhooks", globex.read);
    expect(listed.status).toBe(200);
    expect((listed.body.data as Record<string, unknown>[]).map((e) => e.id)).not.toContain(
      endpoint.id,
    );
    for (const [method, path, key] of [
      ["DELETE", `/v1/webhooks/${endpoint.id}`, globex.admin],
      ["POST", `/v1/webhooks/${endpoint.id}/test`, globex.admin],
      ["GET", `/v1/webhooks/${endpoint.id}/deliveries`, globex.read],
      ["GET", `/v1/webhooks/${endpoint.id}/deliveries`, globex.admin],
    ] as const) {
      const res = await call(method, path, key);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe("NOT_FOUND");
    }
    // Nothing reached A's receiver on B's behalf, and A's endpoint is intact.
    expect(await received(ch)).toHaveLength(1);
    const still = await call("GET", `/v1/webhooks/${endpoint.id}/deliveries`, acme.read);
    expect(still.body.data).toHaveLength(1);
  });

  it("needs admin to create, delete and test; read may list and read deliveries", async () => {
    const { endpoint } = await register(acme.admin);
    for (const [method, path, json] of [
      ["POST", "/v1/webhooks", { url: hookUrl(channel()) }],
      ["DELETE", `/v1/webhooks/${endpoint.id}`, undefined],
      ["POST", `/v1/webhooks/${endpoint.id}/test`, undefined],
    ] as const) {
      expect((await call(method, path, acme.read, json)).status, `${method} ${path}`).toBe(403);
    }
    expect((await call("GET", "/v1/webhooks", acme.read)).status).toBe(200);
    expect((await call("GET", "/v1/webhooks", acme.admin)).status).toBe(200);
    const anonymous = await app.fetch("/v1/webhooks");
    expect(anonymous.status).toBe(401);
  });

  it("deletes: the endpoint leaves the list and can no longer be tested", async () => {
    const { endpoint } = await register(acme.admin);
    expect((await call("DELETE", `/v1/webhooks/${endpoint.id}`, acme.admin)).status).toBe(204);
    expect((await call("DELETE", `/v1/webhooks/${endpoint.id}`, acme.admin)).status).toBe(404);
    expect((await call("POST", `/v1/webhooks/${endpoint.id}/test`, acme.admin)).status).toBe(404);
    const list = await call("GET", "/v1/webhooks", acme.read);
    expect((list.body.data as Record<string, unknown>[]).map((e) => e.id)).not.toContain(
      endpoint.id,
    );
    expect((await call("DELETE", "/v1/webhooks/not-a-uuid", acme.admin)).status).toBe(404);
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "link-local"],
    ["http://10.1.2.3/hook", "private-address"],
    ["http://[::ffff:7f00:1]/hook", "ipv4-mapped-ipv6"],
    ["http://0xa9fea9fe/hook", "link-local"],
    ["https://user:pw@hooks.example.com/x", "no-credentials"],
    ["https://metadata.google.internal/x", "internal-hostname"],
    ["ftp://hooks.example.com/x", "https-only"],
  ])("refuses %s with a 400 naming the rule %s", async (url, rule) => {
    const res = await call("POST", "/v1/webhooks", globex.admin, { url });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(`rule: ${rule}`);
    expect(res.body.error.details?.issues?.[0]?.field).toBe("url");
  });

  it("refuses unknown alert types and unknown fields", async () => {
    const bad = await call("POST", "/v1/webhooks", globex.admin, {
      url: hookUrl(channel()),
      types: ["dev.driftline.nonsense"],
    });
    expect(bad.status).toBe(400);
    const extra = await call("POST", "/v1/webhooks", globex.admin, {
      url: hookUrl(channel()),
      secret: "whsec_mine",
    });
    expect(extra.status).toBe(400);
  });

  it("caps live endpoints per tenant, also under concurrent creates", async () => {
    const tenant = uniqueTenant("hooks-cap");
    const admin = await createKey(tenant, ["admin"]);
    const results = await Promise.all(
      Array.from({ length: 24 }, () =>
        app.fetch("/v1/webhooks", { key: admin, json: { url: hookUrl(channel()) } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(4);
    const list = await call("GET", "/v1/webhooks", admin);
    expect(list.body.data).toHaveLength(20);
    // Deleting one frees a place.
    const first = (list.body.data as { id: string }[])[0]!;
    await call("DELETE", `/v1/webhooks/${first.id}`, admin);
    expect((await call("POST", "/v1/webhooks", admin, { url: hookUrl(channel()) })).status).toBe(
      201,
    );
  });
});
