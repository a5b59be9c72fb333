import { describe, expect, it } from "vitest";
import { HOUR_MS, MINUTE_MS } from "../windows/index.ts";
import type { MetricsQuery } from "./metrics-query.ts";
import { metricsStatements } from "./metrics-sql.ts";

const base: MetricsQuery = {
  tenant: "acme",
  widthMs: MINUTE_MS,
  fromMs: 0,
  toMs: 86_400_000,
  groupBy: [],
  filters: {},
  limit: 1000,
};

describe("metricsStatements: which rows a read sums", () => {
  it.each([
    ["ungrouped minutes", base, true],
    ["minutes by source", { ...base, groupBy: ["source"] }, false],
    ["minutes of one event name", { ...base, filters: { eventName: "Purchase" } }, false],
    ["ungrouped hours", { ...base, widthMs: HOUR_MS }, false],
  ] as [string, MetricsQuery, boolean][])("%s", (_name, q, fromTotals) => {
    const s = metricsStatements(q);
    for (const statement of [s.totals, s.predictions]) {
      expect(statement.text.includes("metric_minute_totals")).toBe(fromTotals);
    }
    expect(s.values.text.includes("metric_minute_value_totals")).toBe(fromTotals);
    // Every $n placeholder has its value.
    const highest = Math.max(...[...s.totals.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    expect(s.totals.values.length).toBe(highest);
  });
});
