/** Model routes through the app with in-memory fakes (no R2, Redis or ORT). */
import { describe, expect, it } from "vitest";
import { fakeManifest, fakeModelBytes, fakeServices } from "../../test/support/fake-services";
import { createApp } from "../app";
import { ErrorBodySchema } from "./error-responses";
import { ModelDetailSchema, ModelListSchema, VersionSummarySchema } from "./models";

async function setup() {
  const world = fakeServices({
    bundled: [
      {
        name: "conversion",
        version: "1",
        manifest: fakeManifest(2),
        bytes: fakeModelBytes([1, 1], 0),
      },
    ],
  });
  const admin = await world.keys.create("shop-1", ["admin"]);
  const app = createApp(() => world.services);
  const call = (path: string, init: RequestInit = {}, key = admin) =>
    app.request(path, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
  const upload = (name: string, version: string, bytes: ArrayBuffer, manifest: unknown) => {
    const form = new FormData();
    form.set("model", new File([bytes], "model.onnx"));
    form.set("manifest", typeof manifest === "string" ? manifest : JSON.stringify(manifest));
    return call(`/v1/models/${name}/versions/${version}`, { method: "PUT", body: form });
  };
  const promote = (name: string, body: unknown) =>
    call(`/v1/models/${name}/promote`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return { world, app, call, upload, promote };
}

describe("model admin with fakes", () => {
  it("warns about features the drift reference leaves out, and not when it covers them all", async () => {
    const { upload } = await setup();
    const numeric = { type: "number", edges: [0], proportions: [0.5, 0.5] };
    const partial = { ...fakeManifest(2), reference: { features: { f0: numeric } } };
    let res = await upload("lead", "1", fakeModelBytes([1, 2], 0), partial);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { warnings?: string[] }).warnings).toEqual([
      "No drift reference for `f1`: drift is not monitored for these features.",
    ]);
    const full = { ...fakeManifest(2), reference: { features: { f0: numeric, f1: numeric } } };
    res = await upload("lead", "2", fakeModelBytes([1, 2], 0), full);
    expect(res.status).toBe(201);
    expect((await res.json()) as object).not.toHaveProperty("warnings");
  });

  it("uploads, lists, describes and promotes", async () => {
    const { world, call, upload, promote } = await setup();
    const res = await upload("lead", "1", fakeModelBytes([1, 2, 3], 0), {
      ...fakeManifest(3),
      name: "other",
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { model: string; version: unknown; warnings?: string[] };
    // fakeManifest has no drift reference: stored, served, and the answer says it is unmonitored.
    expect(created.warnings).toEqual([expect.stringMatching(/^The manifest has no `reference`/)]);
    expect(VersionSummarySchema.parse(created.version)).toMatchObject({
      version: "1",
      features: 3,
      source: "tenant",
    });
    // The path names the version, whatever the manifest says.
    expect((await world.store.getManifest("shop-1", "lead", "1"))?.name).toBe("lead");

    expect((await promote("lead", { version: "1" })).status).toBe(200);
    const list = ModelListSchema.parse(await (await call("/v1/models")).json());
    expect(list.models.map((m) => m.name)).toEqual(["conversion", "lead"]);
    const detail = ModelDetailSchema.parse(await (await call("/v1/models/lead")).json());
    expect(detail.active?.pointer.champion).toBe("1");
    expect(detail.active?.isDefault).toBe(false);
  });

  it("answers 409, 400 and 404 with the standard body", async () => {
    const { upload, promote } = await setup();
    await upload("lead", "1", fakeModelBytes([1], 0), fakeManifest(1));
    const dup = await upload("lead", "1", fakeModelBytes([1], 0), fakeManifest(1));
    expect(dup.status).toBe(409);
    expect((await upload("conversion", "1", fakeModelBytes([1], 0), fakeManifest(1))).status).toBe(
      409,
    );

    const bad = await upload("lead", "2", fakeModelBytes([1], 0), { features: [] });
    expect(bad.status).toBe(400);
    const fields = ErrorBodySchema.parse(await bad.json()).error.details?.issues?.map(
      (i) => i.field,
    );
    expect(fields).toEqual(expect.arrayContaining(["manifest.output", "manifest.features"]));

    const mismatch = await upload("lead", "3", fakeModelBytes([1, 2], 0), fakeManifest(3));
    expect(mismatch.status).toBe(400);
    expect(ErrorBodySchema.parse(await mismatch.json()).error.message).toMatch(
      /failed the upload check/,
    );

    const tooBig = await upload("lead", "4", new Uint8Array(2048).buffer, fakeManifest(1));
    expect(tooBig.status).toBe(413);

    const hugePromotion = await promote("lead", { version: "1", padding: "x".repeat(70_000) });
    expect(hugePromotion.status).toBe(413);

    expect((await promote("lead", { version: "9" })).status).toBe(404);
    expect(
      (await promote("lead", { version: "1", challenger: { version: "1", share: 0 } })).status,
    ).toBe(400);
  });

  it("refuses a manifest holding text that is not well formed", async () => {
    const { world, upload } = await setup();
    const categorical = (categories: string[]) => ({
      ...fakeManifest(1),
      features: [
        { name: "f0", type: "number" },
        { name: "device", type: "categorical", categories, default: "mobile" },
      ],
    });
    const bytes = () => fakeModelBytes([1, 1], 0);
    const cases: [unknown, string][] = [
      [categorical(["mobile", "\ud800"]), "manifest.features.1.categories.1"],
      [categorical(["mobile", "desk\u0000top"]), "manifest.features.1.categories.1"],
      [
        { ...categorical(["mobile"]), features: [{ name: "f\udc00", type: "number" }] },
        "manifest.features.0.name",
      ],
      [{ ...categorical(["mobile"]), owner: { "te\ud800am": "x" } }, "manifest.owner"],
    ];
    let version = 10;
    for (const [manifest, field] of cases) {
      // The manifest part is sent as JSON text with the escapes, as a client would send it.
      const res = await upload("lead", String(version++), bytes(), JSON.stringify(manifest));
      expect(res.status, field).toBe(400);
      const text = await res.text();
      expect(text).not.toMatch(/(?<!\\)\\u(d[89a-f][0-9a-f]{2}|0000)/i);
      const { error } = ErrorBodySchema.parse(JSON.parse(text));
      expect(error.details?.issues?.map((i) => i.field)).toContain(field);
    }
    expect(await world.store.getManifest("shop-1", "lead", "10")).toBeUndefined();
    expect((await upload("lead", "1", bytes(), categorical(["mobile", "desktop"]))).status).toBe(
      201,
    );
  });

  it("lets a read key list and describe models, but not upload or promote", async () => {
    const { world, call } = await setup();
    const reader = await world.keys.create("shop-1", ["read"]);
    const list = await call("/v1/models", {}, reader);
    expect(list.status).toBe(200);
    expect(ModelListSchema.parse(await list.json()).models.map((m) => m.name)).toEqual([
      "conversion",
    ]);
    const detail = await call("/v1/models/conversion", {}, reader);
    expect(detail.status).toBe(200);
    expect(ModelDetailSchema.parse(await detail.json()).versions.map((v) => v.version)).toEqual([
      "1",
    ]);

    const form = new FormData();
    form.set("model", new File([fakeModelBytes([1, 1], 0)], "model.onnx"));
    form.set("manifest", JSON.stringify(fakeManifest(2)));
    const upload = await call("/v1/models/lead/versions/1", { method: "PUT", body: form }, reader);
    expect(upload.status).toBe(403);
    expect(ErrorBodySchema.parse(await upload.json()).error.message).toContain('"admin"');
    expect(await world.store.getManifest("shop-1", "lead", "1")).toBeUndefined();
    const promote = await call(
      "/v1/models/conversion/promote",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ version: "1" }),
      },
      reader,
    );
    expect(promote.status).toBe(403);
  });

  it("refuses keys without the read role", async () => {
    const { world, call } = await setup();
    const scorer = await world.keys.create("shop-1", ["score", "ingest"]);
    expect((await call("/v1/models", {}, scorer)).status).toBe(403);
    expect((await call("/v1/models/conversion", {}, scorer)).status).toBe(403);
  });
});

describe("model admin is audited", () => {
  it("records one entry per upload, promotion and roll back, with the model's fingerprint and no key", async () => {
    const { world, upload, promote } = await setup();
    const at = (iso: string) => {
      world.services.now = () => new Date(iso);
    };
    at("2026-11-22T10:00:00.000Z");
    expect((await upload("lead", "1", fakeModelBytes([1, 2], 0), fakeManifest(2))).status).toBe(
      201,
    );
    at("2026-11-22T11:00:00.000Z");
    expect((await upload("lead", "2", fakeModelBytes([2, 2], 0), fakeManifest(2))).status).toBe(
      201,
    );
    expect((await promote("lead", { version: "2" })).status).toBe(200);
    expect((await promote("lead", { version: "1" })).status).toBe(200);

    expect(world.audited.map((e) => [e.action, e.target])).toEqual([
      ["model.upload", "model:lead@1"],
      ["model.upload", "model:lead@2"],
      ["model.promote", "model:lead"],
      ["model.rollback", "model:lead"],
    ]);
    const [first, , promotion, rollback] = world.audited;
    expect(first?.after).toMatchObject({
      version: "1",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(promotion?.before).toBeNull();
    expect(rollback?.before).toMatchObject({ pointer: { champion: "2" } });
    expect(rollback?.after).toMatchObject({ champion: "1" });
    for (const e of world.audited) {
      expect(e.tenant).toBe("shop-1");
      expect(e.actor.kind).toBe("api-key");
      expect(JSON.stringify(e)).not.toMatch(/dl_/);
    }
  });

  it("records nothing for refused changes", async () => {
    const { world, upload, promote } = await setup();
    expect((await upload("lead", "1", new ArrayBuffer(0), fakeManifest(2))).status).toBe(400);
    expect((await promote("lead", { version: "9" })).status).toBe(404);
    expect(world.audited).toEqual([]);
  });

  it("makes no change when the audit entry cannot be written", async () => {
    const { world, upload, call } = await setup();
    world.services.audit = {
      open: () => ({
        append: () => Promise.reject(new Error("connection refused")),
        list: async () => [],
        close: async () => undefined,
      }),
    };
    const res = await upload("lead", "1", fakeModelBytes([1, 2], 0), fakeManifest(2));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^Nothing was changed: the audit log could not record this model\.upload/,
    );
    expect(await world.store.hasVersion("shop-1", "lead", "1")).toBe(false);
    expect((await call("/v1/models/lead")).status).toBe(404);
  });
});
