import { describe, expect, it } from "vitest";
import {
  type AttemptResult,
  applyIsolatingRefused,
  MAX_ATTEMPTS_PER_TENANT,
} from "./isolate-refused";

interface Item {
  tenant: string;
  id: string;
}

const item = (tenant: string, id: string): Item => ({ tenant, id });
const refusal = Object.assign(new Error("invalid input syntax for type json"), { code: "22P02" });

/**
 * A database in miniature: an attempt is refused when it holds a bad item or a bad tenant, and
 * otherwise adds its items to `stored` (a refused attempt leaves nothing, like a savepoint).
 */
function fakeDatabase(bad: { ids?: string[]; tenants?: string[] }) {
  const stored: string[] = [];
  const calls: { ids: string[]; tenants: readonly string[] }[] = [];
  const attempt = async (items: readonly Item[], tenants: readonly string[]) => {
    calls.push({ ids: items.map((i) => i.id), tenants });
    const refused =
      items.some((i) => bad.ids?.includes(i.id)) || tenants.some((t) => bad.tenants?.includes(t));
    if (refused) return { applied: false, error: refusal } satisfies AttemptResult;
    stored.push(...items.map((i) => i.id));
    return { applied: true } satisfies AttemptResult;
  };
  return { stored, calls, attempt };
}

const tenantOf = (i: Item) => i.tenant;

describe("applyIsolatingRefused", () => {
  it("applies a batch nobody refuses in one attempt", async () => {
    const db = fakeDatabase({});
    const items = [item("a", "a1"), item("b", "b1")];
    const outcome = await applyIsolatingRefused(items, ["b", "a"], tenantOf, db.attempt);
    expect(outcome).toEqual({ refused: [], failedTenants: [], attempts: 1 });
    expect(db.calls).toEqual([{ ids: ["a1", "b1"], tenants: ["a", "b"] }]);
  });

  it("stores every other tenant and every other record of the refusing tenant", async () => {
    const db = fakeDatabase({ ids: ["b3", "b6"] });
    const items = [
      ...["a1", "a2", "a3"].map((id) => item("a", id)),
      ...["b1", "b2", "b3", "b4", "b5", "b6", "b7"].map((id) => item("b", id)),
      item("c", "c1"),
    ];
    const outcome = await applyIsolatingRefused(items, ["a", "b", "c", "d"], tenantOf, db.attempt);
    expect(outcome.refused.map((r) => r.item.id)).toEqual(["b3", "b6"]);
    expect(outcome.refused.every((r) => r.error === refusal)).toBe(true);
    expect(outcome.failedTenants).toEqual([]);
    expect(db.stored.sort()).toEqual(["a1", "a2", "a3", "b1", "b2", "b4", "b5", "b7", "c1"]);
    // A tenant without records of its own (d: only its watermark moved) is applied too.
    expect(db.calls.some((c) => c.tenants.length === 1 && c.tenants[0] === "d")).toBe(true);
  });

  it("fails a tenant alone when it is refused even without its records", async () => {
    const db = fakeDatabase({ tenants: ["b"] });
    const items = [item("a", "a1"), item("b", "b1"), item("b", "b2"), item("c", "c1")];
    const outcome = await applyIsolatingRefused(items, ["a", "b", "c"], tenantOf, db.attempt);
    expect(outcome.refused).toEqual([]);
    expect(outcome.failedTenants).toEqual([
      { tenant: "b", items: [item("b", "b1"), item("b", "b2")], error: refusal },
    ]);
    expect(db.stored.sort()).toEqual(["a1", "c1"]);
  });

  it("gives up on a tenant whose records are all refused once its attempts run out", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `b${i}`);
    const db = fakeDatabase({ ids });
    const items = [item("a", "a1"), ...ids.map((id) => item("b", id))];
    const outcome = await applyIsolatingRefused(items, ["a", "b"], tenantOf, db.attempt);
    const tenantB = db.calls.filter((c) => c.tenants[0] === "b" && c.tenants.length === 1);
    expect(tenantB.length).toBeLessThanOrEqual(MAX_ATTEMPTS_PER_TENANT);
    const failed = outcome.failedTenants.flatMap((f) => f.items.map((i) => i.id));
    // Every record of b is accounted for exactly once: refused alone, or with its tenant.
    expect([...outcome.refused.map((r) => r.item.id), ...failed].sort()).toEqual([...ids].sort());
    expect(db.stored).toEqual(["a1"]);
  });

  it("lets a transient failure through (the batch is retried)", async () => {
    const lost = new Error("connection terminated");
    let calls = 0;
    const attempt = async (): Promise<AttemptResult> => {
      calls += 1;
      if (calls === 1) return { applied: false, error: refusal };
      throw lost;
    };
    await expect(applyIsolatingRefused([item("a", "a1")], ["a"], tenantOf, attempt)).rejects.toBe(
      lost,
    );
  });
});
