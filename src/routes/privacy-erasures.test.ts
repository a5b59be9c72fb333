/** The erasure route through the app with fakes: hashing, keying, audit, parked bundles, refusals. */
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ParkedBundleBucket } from "#core/privacy";
import { FAKE_ENTITY_ID_KEY, fakeServices } from "../../test/support/fake-services";
import { createApp } from "../app";
import { ErrorBodySchema } from "./error-responses";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** An in-memory bucket: enough of R2 for the scrubbing. */
function memoryBucket(objects: Map<string, string>): ParkedBundleBucket {
  return {
    list: async ({ prefix }) => ({
      objects: [...objects.keys()].filter((k) => k.startsWith(prefix)).map((key) => ({ key })),
      truncated: false,
    }),
    get: async (key) => {
      const text = objects.get(key);
      return text === undefined ? null : { text: async () => text, customMetadata: {} };
    },
    put: async (key, value) => objects.set(key, value),
    delete: async (key) => objects.delete(key),
  };
}

async function setup(roles: ("admin" | "read")[] = ["admin"]) {
  const objects = new Map<string, string>();
  const world = fakeServices({ deadLetters: memoryBucket(objects) });
  const key = await world.keys.create("shop-1", roles);
  const app = createApp(() => world.services);
  const erase = (body: unknown) =>
    app.request("/v1/privacy/erasures", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return { world, objects, erase };
}

describe("POST /v1/privacy/erasures", () => {
  it("keys the entity ids as the scoring does, scrubs parked records, audits without identifiers", async () => {
    const { world, objects, erase } = await setup();
    const record = (tenant: string, id: string, em: string) => ({
      topic: "capi",
      key: `${tenant}:${id}`,
      value: { event: { user_data: { em: [em] } } },
    });
    objects.set(
      "parked/ingest/2026-11-22/m-12.json",
      JSON.stringify({
        bundle: 1,
        attempts: 12,
        records: [
          record("shop-1", "e1", sha("jane@example.com")),
          record("shop-2", "e2", sha("jane@example.com")),
        ],
      }),
    );
    const res = await erase({ email: "Jane@Example.com ", externalId: "cust-42" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      identifiers: ["email", "externalId"],
      tables: { predictions: 1, click_id_predictions: 0, conversion_keys: 0 },
      parkedDeadLetters: { records: 1, bundlesRewritten: 1, bundlesDeleted: 0 },
    });
    expect(world.erased).toEqual([
      {
        tenant: "shop-1",
        entityKeys: [
          createHmac("sha256", FAKE_ENTITY_ID_KEY).update("shop-1\u0000cust-42").digest("hex"),
        ],
      },
    ]);
    const left = JSON.parse(objects.get("parked/ingest/2026-11-22/m-12.json")!);
    expect(left.records.map((r: { key: string }) => r.key)).toEqual(["shop-2:e2"]);
    expect(world.audited).toHaveLength(1);
    expect(world.audited[0]).toMatchObject({
      tenant: "shop-1",
      action: "person.erase",
      after: { identifiers: ["email", "externalId"] },
    });
    const audit = JSON.stringify(world.audited).toLowerCase();
    for (const v of ["jane", "cust-42", sha("jane@example.com")]) expect(audit).not.toContain(v);
  });

  it("answers 400 naming the field, not the value, for an identifier the ingest refuses", async () => {
    const { world, erase } = await setup();
    const res = await erase({ phone: "call me maybe" });
    expect(res.status).toBe(400);
    const body = ErrorBodySchema.parse(await res.json());
    expect(body.error.details).toEqual({ issues: [expect.objectContaining({ field: "phone" })] });
    expect(JSON.stringify(body)).not.toContain("call me maybe");
    expect(world.erased).toEqual([]);
    expect(world.audited).toEqual([]);
  });

  it("answers 400 for an empty body or an unknown field, and erases nothing", async () => {
    const { world, erase } = await setup();
    expect((await erase({})).status).toBe(400);
    expect((await erase({ mail: "jane@example.com" })).status).toBe(400);
    expect(world.erased).toEqual([]);
  });

  it("is for admin keys only", async () => {
    const { world, erase } = await setup(["read"]);
    expect((await erase({ externalId: "cust-42" })).status).toBe(403);
    expect(world.erased).toEqual([]);
  });
});
