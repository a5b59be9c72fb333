/**
 * The destinations API inside workerd against real Postgres (the test schema, through the relay)
 * and real Redis for keys: create, list, delete, statistics from the delivery service's records,
 * validation, roles, tenant isolation, and that the access token is never shown or stored in clear.
 */
import { describe, expect, it } from "vitest";
import {
  importDestinationKey,
  LOCAL_DESTINATION_ENCRYPTION_KEY,
  openDestinationToken,
  tenantForwardingRedisKey,
} from "#core/destinations";
import { DestinationStatsSchema } from "../../src/routes/destinations-stats";
import { sql } from "./read-db";
import { createKey, type ErrorJson, redis, testApp, uniqueTenant } from "./support";

const TOKEN = "EAAGm0PX4ZCpsBAKZCZCtestTOKENvalue1234";

interface Destination {
  id: string;
  kind: string;
  pixelId: string;
  testEventCode: string | null;
  tokenHint: string;
  name: string | null;
}

describe("destinations API", () => {
  const app = testApp();
  const post = (key: string, json: unknown) =>
    app.fetch("/v1/destinations", { method: "POST", key, json });

  it("stores a Meta destination with its token sealed, lists it without the token, deletes it", async () => {
    const tenant = uniqueTenant("dest");
    const admin = await createKey(tenant, ["admin"]);
    const res = await post(admin, {
      kind: "meta",
      name: "Shop pixel",
      pixelId: "1234567890123456",
      accessToken: TOKEN,
      testEventCode: "TEST4039",
    });
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain(TOKEN);
    const created = JSON.parse(text) as Destination;
    expect(created).toMatchObject({
      kind: "meta",
      name: "Shop pixel",
      pixelId: "1234567890123456",
      testEventCode: "TEST4039",
      tokenHint: TOKEN.slice(-4),
    });

    const [row] = await sql(
      "SELECT secret_sealed, settings FROM destinations WHERE tenant_id = $1 AND destination_id = $2",
      [tenant, created.id],
    );
    expect(String(row?.secret_sealed)).not.toContain(TOKEN);
    expect(JSON.stringify(row?.settings)).not.toContain(TOKEN);
    const key = await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY);
    expect(
      await openDestinationToken(key, String(row?.secret_sealed), {
        tenant,
        destinationId: created.id,
      }),
    ).toEqual({ ok: true, token: TOKEN });

    const list = await app.fetch("/v1/destinations", { key: admin });
    const listText = await list.text();
    expect(listText).not.toContain(TOKEN);
    expect((JSON.parse(listText) as { data: Destination[] }).data.map((d) => d.id)).toEqual([
      created.id,
    ]);

    // The edge now keeps what the destination matches on in this tenant's messages…
    expect(await redis().exists(tenantForwardingRedisKey(tenant))).toBe(1);
    expect(
      (await app.fetch(`/v1/destinations/${created.id}`, { method: "DELETE", key: admin })).status,
    ).toBe(204);
    // …and stops once its last destination is gone.
    expect(await redis().exists(tenantForwardingRedisKey(tenant))).toBe(0);
    const after = (await (await app.fetch("/v1/destinations", { key: admin })).json()) as {
      data: Destination[];
    };
    expect(after.data).toEqual([]);
    expect(
      (await app.fetch(`/v1/destinations/${created.id}`, { method: "DELETE", key: admin })).status,
    ).toBe(404);
  });

  it("says which field is wrong", async () => {
    const admin = await createKey(uniqueTenant("dest-bad"), ["admin"]);
    const res = await post(admin, { kind: "meta", pixelId: "pixel-one", accessToken: "short" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorJson & { error: { details?: unknown } };
    expect(body.error.code).toBe("VALIDATION");
    expect(body.error.message).toMatch(/pixelId must be the pixel \(dataset\) id/);
    expect(body.error.message).toMatch(/accessToken must be a Conversions API access token/);
    const unknownKind = await post(admin, { kind: "tiktok", pixelId: "1", accessToken: TOKEN });
    expect(unknownKind.status).toBe(400);
  });

  it("needs admin to change, read to list; a tenant never sees or touches another's", async () => {
    const acme = uniqueTenant("dest-acme");
    const globex = uniqueTenant("dest-globex");
    const acmeAdmin = await createKey(acme, ["admin"]);
    const acmeRead = await createKey(acme, ["read"]);
    const globexAdmin = await createKey(globex, ["admin"]);
    const ingest = await createKey(acme, ["ingest"]);
    expect((await post(acmeRead, { kind: "meta", pixelId: "1", accessToken: TOKEN })).status).toBe(
      403,
    );
    expect((await post(ingest, { kind: "meta", pixelId: "1", accessToken: TOKEN })).status).toBe(
      403,
    );
    const created = (await (
      await post(acmeAdmin, { kind: "meta", pixelId: "42", accessToken: TOKEN })
    ).json()) as Destination;
    expect((await app.fetch("/v1/destinations", { key: acmeRead })).status).toBe(200);
    const globexList = (await (
      await app.fetch("/v1/destinations", { key: globexAdmin })
    ).json()) as {
      data: Destination[];
    };
    expect(globexList.data).toEqual([]);
    for (const [method, path] of [
      ["DELETE", `/v1/destinations/${created.id}`],
      ["GET", `/v1/destinations/${created.id}/stats`],
    ] as const) {
      expect(
        (await app.fetch(path, { method, key: globexAdmin })).status,
        `${method} ${path}`,
      ).toBe(404);
    }
    expect(
      (await app.fetch(`/v1/destinations/${created.id}/stats`, { key: acmeRead })).status,
    ).toBe(200);
  });

  it("answers the delivery statistics the delivery service recorded", async () => {
    const tenant = uniqueTenant("dest-stats");
    const admin = await createKey(tenant, ["admin"]);
    const created = (await (
      await post(admin, { kind: "meta", pixelId: "777", accessToken: TOKEN })
    ).json()) as Destination;
    await sql(
      `INSERT INTO destination_batches
         (tenant_id, destination_id, status, events, attempts, http_status, events_received, fbtrace_id, messages, error, sent_at)
       VALUES
         ($1, $2, 'delivered', 1000, 3, 200, 1000, 'AbC1', '[]', NULL, now() - interval '2 minutes'),
         ($1, $2, 'delivered', 250, 1, 200, 250, 'AbC2', '[]', NULL, now() - interval '1 minute'),
         ($1, $2, 'dead-lettered', 1, 1, 400, NULL, 'AbC3', '[]', 'Event Timestamp Too Old (code 100, subcode 2804003)', now())`,
      [tenant, created.id],
    );
    const res = await app.fetch(`/v1/destinations/${created.id}/stats`, { key: admin });
    expect(res.status).toBe(200);
    const stats = DestinationStatsSchema.parse(await res.json());
    expect(stats).toMatchObject({
      batches: 3,
      delivered: { batches: 2, events: 1250, eventsReceived: 1250 },
      deadLettered: { batches: 1, events: 1 },
      retries: 2,
      lastError: {
        error: "Event Timestamp Too Old (code 100, subcode 2804003)",
        fbtraceId: "AbC3",
      },
    });
    expect(stats.recent.map((r) => r.fbtraceId)).toEqual(["AbC3", "AbC2", "AbC1"]);
    const bad = await app.fetch(
      `/v1/destinations/${created.id}/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`,
      { key: admin },
    );
    expect(bad.status).toBe(400);
  });
});
