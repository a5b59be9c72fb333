import { describe, expect, it } from "vitest";
import {
  FakeModelRuntime,
  FakeModelStore,
  FakePointerStore,
  fakeManifest,
  fakeModelBytes,
} from "../../test/support/fake-services";
import { ModelRegistry } from "./model-registry";

function registry(maxLoadedVersions = 2) {
  const store = new FakeModelStore();
  const pointers = new FakePointerStore();
  const runtime = new FakeModelRuntime();
  const models = new ModelRegistry({
    store,
    pointers,
    runtime,
    bundled: [
      {
        name: "conversion",
        version: "1",
        manifest: fakeManifest(1),
        bytes: fakeModelBytes([1], 0),
      },
    ],
    maxLoadedVersions,
    maxModelBytes: 1 << 20,
  });
  const upload = (tenant: string, name: string, version: string) =>
    models.upload({
      tenant,
      name,
      version,
      modelBytes: fakeModelBytes([2], 0),
      manifest: fakeManifest(1),
      now: new Date("2026-11-22T00:00:00Z"),
    });
  return { models, store, pointers, runtime, upload };
}

const one = new Float32Array([1]);

describe("ModelRegistry", () => {
  it("serves the bundled default to tenants without a pointer, from one shared session", async () => {
    const { models, runtime } = registry();
    expect(await models.active("a", "conversion")).toEqual({
      pointer: { champion: "1" },
      isDefault: true,
    });
    for (const tenant of ["a", "b", "c", "d"]) {
      const serving = await models.serving(tenant, "conversion", "1");
      expect(serving.source).toBe("bundled");
      await serving.score(one, 1);
    }
    expect(runtime.loads).toBe(1);
    expect(runtime.releases).toBe(0);
  });

  it("prefers a tenant's promoted version, and a tenant's own upload over the bundled one", async () => {
    const { models, upload } = registry();
    await upload("a", "conversion", "2");
    await models.promote("a", "conversion", { champion: "2" }, new Date());
    expect((await models.active("a", "conversion"))?.isDefault).toBe(false);
    expect((await models.serving("a", "conversion", "2")).source).toBe("tenant");
    expect((await models.active("b", "conversion"))?.isDefault).toBe(true);
  });

  it("releases the least recently used tenant versions beyond the limit, never bundled ones", async () => {
    const { models, runtime, upload } = registry(2);
    await upload("a", "m", "1");
    await upload("a", "m", "2");
    await upload("a", "m", "3");
    await models.serving("a", "conversion", "1");
    await models.serving("a", "m", "1");
    await models.serving("a", "m", "2"); // evicts the bundled entry: not released
    expect(runtime.releases).toBe(0);
    await models.serving("a", "m", "3"); // evicts m/1: released
    await new Promise((r) => setTimeout(r, 0));
    expect(runtime.releases).toBe(1);
    // An evicted version loads again on demand.
    expect(await (await models.serving("a", "m", "1")).score(one, 1)).toHaveLength(1);
  });

  it("keeps a failed load out of the cache", async () => {
    const { models, runtime, upload } = registry();
    await expect(models.serving("a", "m", "1")).rejects.toThrow(/no version "1"/);
    await upload("a", "m", "1");
    await expect(models.serving("a", "m", "1")).resolves.toMatchObject({ version: "1" });
    expect(runtime.loads).toBe(1);
  });
});
