// The plan sends a tenant's alerts only to that tenant's endpoints subscribed to the type, then
// to every operator sink.
import { describe, expect, it } from "vitest";
import {
  endpointTarget,
  parseWebhookTarget,
  planAlertDeliveries,
  subscribesTo,
} from "./plan-alert-deliveries.ts";

const drift = "dev.driftline.drift.changed";
const perf = "dev.driftline.performance.degraded";

describe("planAlertDeliveries", () => {
  const subs = [
    { endpointId: "a-all", tenant: "a", types: [] },
    { endpointId: "a-drift", tenant: "a", types: [drift] },
    { endpointId: "b-all", tenant: "b", types: [] },
  ];

  it.each([
    ["a", drift, ["endpoint:a-all", "endpoint:a-drift"]],
    ["a", perf, ["endpoint:a-all"]],
    ["b", drift, ["endpoint:b-all"]],
    ["c", drift, []],
  ])("tenant %s, %s → %j", (tenant, type, targets) => {
    const plan = planAlertDeliveries([{ tenant, alertId: "x", type }], subs);
    expect(plan.map((p) => p.target)).toEqual(targets);
  });

  it("adds every operator sink to every alert, after the tenant's endpoints", () => {
    const plan = planAlertDeliveries(
      [
        { tenant: "a", alertId: "1", type: perf },
        { tenant: "c", alertId: "2", type: drift },
      ],
      subs,
      ["https://ops.example/hook"],
    );
    expect(plan.map((p) => [p.alert.alertId, p.target])).toEqual([
      ["1", "endpoint:a-all"],
      ["1", "https://ops.example/hook"],
      ["2", "https://ops.example/hook"],
    ]);
  });

  it("reads targets back", () => {
    expect(parseWebhookTarget(endpointTarget("e1"))).toEqual({
      kind: "endpoint",
      endpointId: "e1",
    });
    expect(parseWebhookTarget("https://ops.example/hook")).toEqual({
      kind: "operator",
      url: "https://ops.example/hook",
    });
    expect(subscribesTo({ types: [] }, "anything")).toBe(true);
    expect(subscribesTo({ types: [drift] }, perf)).toBe(false);
  });
});
