import { describe, expect, it } from "vitest";
import { DependencyUnavailableError } from "#core/errors";
import type { ModelRegistryNotice } from "#core/model-registry-message";
import {
  FakeModelRuntime,
  FakeModelStore,
  FakePointerStore,
  fakeManifest,
  fakeModelBytes,
} from "../../test/support/fake-services";
import { ModelRegistry } from "./model-registry";
import type { ModelChangeLog } from "./model-registry-ports";

/** Records the notices of each call; `failNext` makes the next call throw like a refusing queue. */
class RecordingChangeLog implements ModelChangeLog {
  readonly calls: ModelRegistryNotice[][] = [];
  failNext = false;
  async record(notices: readonly ModelRegistryNotice[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("Queue send failed: 500");
    }
    this.calls.push([...notices]);
  }
}

function registry(maxLoadedVersions = 2, changes?: ModelChangeLog) {
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
    ...(changes === undefined ? {} : { changes }),
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

  it("caches a version only once it loaded: requests for missing versions evict nothing", async () => {
    const { models, runtime, upload } = registry(2);
    await upload("b", "m", "1");
    await models.serving("b", "m", "1");
    // A burst of requests for versions that do not exist, all in flight at once.
    const bogus = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => models.serving("a", "m", String(100 + i))),
    );
    expect(bogus.every((r) => r.status === "rejected")).toBe(true);
    await models.serving("b", "m", "1");
    expect(runtime.loads).toBe(1);
    expect(runtime.releases).toBe(0);
  });

  it("makes a tenant holding more than half the cache give up its own versions, not others'", async () => {
    const { models, runtime, upload } = registry(4);
    await upload("b", "m", "1");
    await models.serving("b", "m", "1");
    for (let v = 1; v <= 6; v++) {
      await upload("a", "m", String(v));
      await models.serving("a", "m", String(v));
    }
    const loadsBefore = runtime.loads;
    await models.serving("b", "m", "1");
    expect(runtime.loads).toBe(loadsBefore);
    // Tenant a kept at most its share: its oldest versions were released.
    expect(runtime.releases).toBe(3);
  });

  it("releases versions beyond the byte budget", async () => {
    const store = new FakeModelStore();
    const runtime = new FakeModelRuntime();
    const bytes = fakeModelBytes([2], 0);
    const models = new ModelRegistry({
      store,
      pointers: new FakePointerStore(),
      runtime,
      bundled: [],
      maxLoadedVersions: 100,
      maxLoadedBytes: bytes.byteLength * 2,
      maxModelBytes: 1 << 20,
    });
    for (const tenant of ["a", "b", "c"]) {
      await models.upload({
        tenant,
        name: "m",
        version: "1",
        modelBytes: fakeModelBytes([2], 0),
        manifest: fakeManifest(1),
        now: new Date("2026-11-22T00:00:00Z"),
      });
      await models.serving(tenant, "m", "1");
    }
    expect(runtime.releases).toBe(1);
    await models.serving("b", "m", "1");
    await models.serving("c", "m", "1");
    expect(runtime.loads).toBe(3);
  });

  it("keeps a failed load out of the cache", async () => {
    const { models, runtime, upload } = registry();
    await expect(models.serving("a", "m", "1")).rejects.toThrow(/no version "1"/);
    await upload("a", "m", "1");
    await expect(models.serving("a", "m", "1")).resolves.toMatchObject({ version: "1" });
    expect(runtime.loads).toBe(1);
  });

  describe("announcing changes for monitoring", () => {
    const at = new Date("2026-11-22T10:00:00.000Z");

    it("announces an upload, and a promotion with the stored versions it routes to", async () => {
      const changes = new RecordingChangeLog();
      const { models, upload } = registry(2, changes);
      await upload("a", "m", "1");
      await upload("a", "m", "2");
      expect(changes.calls).toEqual([
        [
          {
            schemaVersion: 1,
            kind: "model-version",
            action: "uploaded",
            tenant: "a",
            name: "m",
            version: "1",
          },
        ],
        [
          {
            schemaVersion: 1,
            kind: "model-version",
            action: "uploaded",
            tenant: "a",
            name: "m",
            version: "2",
          },
        ],
      ]);
      await models.promote(
        "a",
        "m",
        { champion: "2", challenger: { version: "1", share: 0.2 } },
        at,
      );
      expect(changes.calls[2]!.map((n) => `${n.action}:${n.version}`)).toEqual([
        "uploaded:2",
        "uploaded:1",
        "promoted:2",
      ]);
      expect(changes.calls[2]![2]).toMatchObject({
        tenant: "a",
        name: "m",
        active: {
          champion: "2",
          challenger: { version: "1", share: 0.2 },
          promotedAt: "2026-11-22T10:00:00.000Z",
        },
      });
    });

    it("does not announce bundled versions as uploads, nor anything that failed", async () => {
      const changes = new RecordingChangeLog();
      const { models, upload } = registry(2, changes);
      await models.promote("a", "conversion", { champion: "1" }, at);
      expect(changes.calls).toEqual([
        [expect.objectContaining({ action: "promoted", version: "1" })],
      ]);
      await expect(models.promote("a", "conversion", { champion: "7" }, at)).rejects.toThrow(
        /no version "7"/,
      );
      await upload("a", "m", "1");
      await expect(upload("a", "m", "1")).rejects.toThrow(/already exists/);
      expect(changes.calls).toHaveLength(2);
    });

    it("answers 503 saying what happened when the announcement fails", async () => {
      const changes = new RecordingChangeLog();
      const { models, store, pointers, upload } = registry(2, changes);
      changes.failNext = true;
      const failed = await upload("a", "m", "1").catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(DependencyUnavailableError);
      expect((failed as Error).message).toMatch(
        /is stored, but announcing it to monitoring failed/,
      );
      // The version is stored; promoting it announces it.
      expect(await store.hasVersion("a", "m", "1")).toBe(true);
      changes.failNext = true;
      await expect(models.promote("a", "m", { champion: "1" }, at)).rejects.toThrow(
        /promotion of model "m" is in effect, but announcing it/,
      );
      expect((await pointers.get("a", "m"))?.champion).toBe("1");
      await models.promote("a", "m", { champion: "1" }, at);
      expect(changes.calls.at(-1)!.map((n) => n.action)).toEqual(["uploaded", "promoted"]);
    });
  });
});
