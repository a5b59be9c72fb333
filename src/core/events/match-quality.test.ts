import { describe, expect, it } from "vitest";
import { computeMatchQuality, MATCH_SIGNAL_WEIGHTS } from "./match-quality.ts";
import { HASHED_FIELDS, UNHASHED_FIELDS } from "./user-data-fields.ts";
import type { HashedUserData } from "./user-data-schema.ts";

const H = "a".repeat(64);

describe("computeMatchQuality", () => {
  it.each<[string, HashedUserData, number, string[]]>([
    ["nothing", {}, 0, []],
    [
      "browser only",
      { client_ip_address: "203.0.113.7", client_user_agent: "UA" },
      1,
      ["ip", "userAgent"],
    ],
    [
      "browser + fbp",
      { client_ip_address: "203.0.113.7", client_user_agent: "UA", fbp: "fb.1.1.1" },
      2,
      ["browserId", "ip", "userAgent"],
    ],
    ["email", { em: [H] }, 3, ["email"]],
    ["several emails count once", { em: [H, "b".repeat(64)] }, 3, ["email"]],
    ["email + phone", { em: [H], ph: [H] }, 6, ["email", "phone"]],
    [
      "name and address",
      { fn: [H], ln: [H], ct: [H], st: [H], zp: [H], country: [H] },
      2.25,
      ["firstName", "lastName", "zip", "city", "state", "country"],
    ],
    [
      "legacy first-name fields count as one signal",
      { fn: [H], f5first: H, fi: H },
      0.5,
      ["firstName"],
    ],
    ["page_id names the business, not the person", { page_id: "1" }, 0, []],
    ["empty list counts as absent", { em: [] as unknown as [string] }, 0, []],
  ])("%s → %d", (_label, userData, score, signals) => {
    expect(computeMatchQuality(userData)).toEqual({ score, signals });
  });

  it("caps at 10", () => {
    const everything: HashedUserData = {
      em: [H],
      ph: [H],
      external_id: [H],
      fbc: "fb.1.1.x",
      fbp: "fb.1.1.1",
      client_ip_address: "203.0.113.7",
      client_user_agent: "UA",
    };
    // 3 + 3 + 2 + 2 + 1 + 0.5 + 0.5 = 12 before the cap.
    expect(computeMatchQuality(everything).score).toBe(10);
    expect(computeMatchQuality({ em: [H], ph: [H], fbc: "fb.1.1.x", fbp: "fb.1.1.1" }).score).toBe(
      9,
    );
  });

  it("the weight table covers every user_data field except the business's own ids", () => {
    const weighted = new Set<string>(
      Object.values(MATCH_SIGNAL_WEIGHTS).flatMap((s) => [...s.fields]),
    );
    const unweighted = [...HASHED_FIELDS, ...UNHASHED_FIELDS].filter((f) => !weighted.has(f));
    expect(unweighted.sort()).toEqual(["ig_account_id", "page_id"]);
  });
});
