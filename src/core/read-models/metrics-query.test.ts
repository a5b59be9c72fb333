import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { MAX_METRICS_RANGE_MS, readMetrics } from "./metrics-query.ts";

const NOW = Date.UTC(2026, 11, 7, 12);

describe("readMetrics ranges", () => {
  const reads: unknown[] = [];
  const deps = {
    reader: {
      async readWindows(q: unknown) {
        reads.push(q);
        return { totals: [], values: [], predictions: [], maxEventTimeMs: undefined };
      },
    },
    nowMs: () => NOW,
    allowedLatenessMs: 60_000,
    maxRows: 100,
  };

  it("refuses a range longer than 31 days before reading anything", async () => {
    const from = String(NOW - MAX_METRICS_RANGE_MS - 1);
    await expect(
      readMetrics(deps, "acme", { from, to: String(NOW), granularity: "hour" }),
    ).rejects.toThrow(ValidationError);
    expect(reads).toHaveLength(0);
  });

  it("reads a range of exactly 31 days", async () => {
    const from = String(NOW - MAX_METRICS_RANGE_MS);
    const body = await readMetrics(deps, "acme", { from, to: String(NOW), granularity: "hour" });
    expect(body.windows).toEqual([]);
    expect(reads).toHaveLength(1);
  });
});
