import { afterEach, describe, expect, it, vi } from "vitest";
import { StreamMetrics } from "./stream-metrics";

const committed = (counted: number) => ({
  topic: "events",
  partition: 0,
  records: counted,
  counted,
  duplicates: 0,
  deadLettered: 0,
  durationMs: 5,
  highWatermark: "100",
  nextOffset: "100",
});

afterEach(() => {
  vi.useRealTimers();
});

describe("StreamMetrics", { timeout: 60_000 }, () => {
  it("keeps only the rate window's seconds when /metrics is never scraped", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 7) });
    const metrics = new StreamMetrics({ defaultMetrics: false });
    // A day of batches, one a second, and no scrape.
    for (let s = 0; s < 86_400; s++) {
      metrics.batchCommitted(committed(3));
      vi.advanceTimersByTime(1_000);
    }
    expect(metrics.rateSeconds).toBeLessThanOrEqual(11);
  });

  it("still reports the events per second of the last window", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 11, 7) });
    const metrics = new StreamMetrics({ defaultMetrics: false });
    for (let s = 0; s < 30; s++) {
      metrics.batchCommitted(committed(9));
      vi.advanceTimersByTime(1_000);
    }
    const gauge = await metrics.registry
      .getSingleMetric("driftline_stream_events_per_second")!
      .get();
    expect(gauge.values[0]?.value).toBe(9);
  });
});
