import { describe, expect, it } from "vitest";
import { chooseVersion, uniformBucket } from "./choose-version.ts";

describe("uniformBucket", () => {
  // Golden values from an independent Python implementation of FNV-1a 32 + murmur3 fmix32 over UTF-8.
  it.each([
    ["", 0.6689221884589642],
    ["a", 0.10352621669881046],
    ["user-1", 0.4670340372249484],
    ["user-2", 0.1986513624433428],
    ["t\u0000m\u00002\u0000u-1", 0.5376276683527976],
    ["ünïcødé-😀", 0.019277610583230853],
  ])("%j → %d", (key, expected) => {
    expect(uniformBucket(key)).toBe(expected);
  });

  it("is roughly uniform over many ids", () => {
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 20_000; i++) bins[Math.floor(uniformBucket(`entity-${i}`) * 10)] += 1;
    // Expected 2000 per bin, σ ≈ 42: ±6σ.
    for (const count of bins) expect(Math.abs(count - 2000)).toBeLessThan(260);
  });
});

describe("chooseVersion", () => {
  const pointer = { champion: "1", challenger: { version: "2", share: 0.25 } };
  const route = (entityId?: string) => ({ tenant: "t", model: "m", entityId });

  it("always picks the champion without a challenger", () => {
    expect(chooseVersion({ champion: "3" }, route("x"), () => 0)).toEqual({
      version: "3",
      arm: "champion",
    });
  });

  it("routes an entity by its bucket, independent of the random source", () => {
    for (const id of ["a", "b", "user-1", "user-2"]) {
      const bucket = uniformBucket(`t\u0000m\u00002\u0000${id}`);
      const expected = bucket < 0.25 ? "2" : "1";
      expect(chooseVersion(pointer, route(id), () => 0).version).toBe(expected);
      expect(chooseVersion(pointer, route(id), () => 0.99).version).toBe(expected);
    }
  });

  it("gives about `share` of entities to the challenger and reshuffles for a new challenger", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const arms = ids.map((id) => chooseVersion(pointer, route(id), Math.random).arm);
    const share = arms.filter((a) => a === "challenger").length / ids.length;
    expect(Math.abs(share - 0.25)).toBeLessThan(0.03);
    const next = { champion: "1", challenger: { version: "3", share: 0.25 } };
    const moved = ids.filter(
      (id, i) =>
        (chooseVersion(next, route(id), Math.random).arm === "challenger") !==
        (arms[i] === "challenger"),
    );
    // Independent assignments: P(differ) = 2·0.25·0.75 = 0.375.
    expect(moved.length / ids.length).toBeGreaterThan(0.3);
  });

  it("uses the random source without an entity id", () => {
    expect(chooseVersion(pointer, route(), () => 0.1).version).toBe("2");
    expect(chooseVersion(pointer, route(), () => 0.25).version).toBe("1");
  });
});
