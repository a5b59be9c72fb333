import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  aggregateWindows,
  compareWindowKeys,
  type WindowDelta,
  type WindowingSpec,
  type WindowObservation,
} from "./aggregate-windows.ts";
import { HOUR_MS, MINUTE_MS } from "./window-start-ms.ts";

const T = (iso: string) => Date.parse(`2026-03-01T${iso}Z`);
const spec: WindowingSpec = {
  widthsMs: [MINUTE_MS, HOUR_MS],
  allowedLatenessMs: 2 * MINUTE_MS,
  maxFutureSkewMs: 5 * MINUTE_MS,
};
const NOW = T("12:00:00");

function obs(time: string, over: Partial<WindowObservation> = {}): WindowObservation {
  return {
    tenant: "t1",
    source: "web",
    eventName: "Purchase",
    kind: "event",
    campaign: "",
    eventTimeMs: T(time),
    attributed: false,
    ...over,
  };
}

/** The delta for one window, or undefined; compact so tables stay readable. */
function find(
  deltas: WindowDelta[],
  width: number,
  start: string,
  over: Partial<WindowDelta> = {},
) {
  return deltas.find(
    (d) =>
      d.widthMs === width &&
      d.windowStartMs === T(start) &&
      Object.entries(over).every(([k, v]) => d[k as keyof WindowDelta] === v),
  );
}

describe("aggregateWindows", () => {
  type Case = {
    name: string;
    observations: WindowObservation[];
    maxEventTime?: [string, string][];
    expect: {
      width: number;
      start: string;
      key?: Partial<WindowDelta>;
      is: Partial<WindowDelta>;
    }[];
    rows: number;
  };
  const cases: Case[] = [
    {
      name: "one event makes a minute row and an hour row",
      observations: [obs("10:15:30")],
      expect: [
        { width: MINUTE_MS, start: "10:15:00", is: { count: 1, late: 0, values: [] } },
        { width: HOUR_MS, start: "10:00:00", is: { count: 1, late: 0 } },
      ],
      rows: 2,
    },
    {
      name: "values sum per currency, in micro-units",
      observations: [
        obs("10:15:01", { currency: "USD", valueMicros: 19_990_000n }),
        obs("10:15:02", { currency: "USD", valueMicros: 10_000n }),
        obs("10:15:03", { currency: "EUR", valueMicros: 5_000_000n }),
        obs("10:15:04"),
        // A value without a currency cannot be summed with anything; the event still counts.
        obs("10:15:05", { valueMicros: 1_000_000n }),
      ],
      expect: [
        {
          width: MINUTE_MS,
          start: "10:15:00",
          is: {
            count: 5,
            values: [
              { currency: "EUR", valueMicros: 5_000_000n, valueCount: 1 },
              { currency: "USD", valueMicros: 20_000_000n, valueCount: 2 },
            ],
          },
        },
        {
          width: HOUR_MS,
          start: "10:00:00",
          is: {
            values: [
              { currency: "EUR", valueMicros: 5_000_000n, valueCount: 1 },
              { currency: "USD", valueMicros: 20_000_000n, valueCount: 2 },
            ],
          },
        },
      ],
      rows: 2,
    },
    {
      name: "match quality sums for a mean; attributed conversions counted",
      observations: [
        obs("10:15:01", { matchQuality: 7.5, attributed: true }),
        obs("10:15:02", { matchQuality: 2.25 }),
        obs("10:15:03"),
      ],
      expect: [
        {
          width: MINUTE_MS,
          start: "10:15:00",
          is: {
            count: 3,
            matchQualitySum: 9.75,
            matchQualityCount: 2,
            conversions: 1,
            predictions: 0,
          },
        },
      ],
      rows: 2,
    },
    {
      name: "dimensions split rows: source, event name, campaign, tenant",
      observations: [
        obs("10:15:01"),
        obs("10:15:02", { source: "capi" }),
        obs("10:15:03", { eventName: "Lead" }),
        obs("10:15:04", { campaign: "spring" }),
        obs("10:15:05", { tenant: "t2" }),
      ],
      expect: [
        { width: MINUTE_MS, start: "10:15:00", key: { source: "capi" }, is: { count: 1 } },
        { width: MINUTE_MS, start: "10:15:00", key: { campaign: "spring" }, is: { count: 1 } },
        { width: MINUTE_MS, start: "10:15:00", key: { tenant: "t2" }, is: { count: 1 } },
      ],
      rows: 10,
    },
    {
      name: "predictions count only as predictions and never move the watermark",
      observations: [
        obs("10:15:01", { kind: "prediction", source: "predictions", eventName: "conversion" }),
        obs("10:15:02", { kind: "prediction", source: "predictions", eventName: "conversion" }),
        obs("10:30:00", { kind: "prediction", source: "predictions", eventName: "conversion" }),
        obs("10:15:03"),
      ],
      expect: [
        {
          width: MINUTE_MS,
          start: "10:15:00",
          key: { source: "predictions" },
          is: { count: 0, late: 0, predictions: 2, conversions: 0 },
        },
        { width: MINUTE_MS, start: "10:15:00", key: { source: "web" }, is: { count: 1, late: 0 } },
        {
          width: HOUR_MS,
          start: "10:00:00",
          key: { source: "predictions" },
          is: { predictions: 3 },
        },
      ],
      rows: 5,
    },
    {
      name: "an event behind the stored watermark is late in its minute, not in its open hour",
      // watermark = 10:05:00 − 2 min = 10:03:00 closes the 10:02 minute (ends at 10:03:00).
      maxEventTime: [["t1", "10:05:00"]],
      observations: [obs("10:02:30"), obs("10:03:00")],
      expect: [
        { width: MINUTE_MS, start: "10:02:00", is: { count: 1, late: 1 } },
        { width: MINUTE_MS, start: "10:03:00", is: { count: 1, late: 0 } },
        { width: HOUR_MS, start: "10:00:00", is: { count: 2, late: 0 } },
      ],
      rows: 3,
    },
    {
      name: "the watermark advances within the batch, event by event",
      observations: [obs("10:00:10"), obs("10:10:00"), obs("10:00:20"), obs("10:07:59")],
      // After 10:10:00 the watermark is 10:08:00: the 10:00 and 10:07 minutes are closed.
      expect: [
        { width: MINUTE_MS, start: "10:00:00", is: { count: 2, late: 1 } },
        { width: MINUTE_MS, start: "10:07:00", is: { count: 1, late: 1 } },
        { width: MINUTE_MS, start: "10:10:00", is: { count: 1, late: 0 } },
        { width: HOUR_MS, start: "10:00:00", is: { count: 4, late: 0 } },
      ],
      rows: 4,
    },
    {
      name: "a closed hour counts late events in the hour row too",
      maxEventTime: [["t1", "11:30:00"]],
      observations: [obs("10:59:00")],
      expect: [
        { width: MINUTE_MS, start: "10:59:00", is: { count: 1, late: 1 } },
        { width: HOUR_MS, start: "10:00:00", is: { count: 1, late: 1 } },
      ],
      rows: 2,
    },
    {
      name: "watermarks are per tenant",
      maxEventTime: [["t1", "11:30:00"]],
      observations: [obs("10:59:00", { tenant: "t2" })],
      expect: [
        { width: MINUTE_MS, start: "10:59:00", key: { tenant: "t2" }, is: { count: 1, late: 0 } },
      ],
      rows: 2,
    },
    {
      name: "an event from the far future is counted but does not move the watermark",
      observations: [obs("13:00:00"), obs("10:00:00")],
      expect: [
        { width: MINUTE_MS, start: "13:00:00", is: { count: 1, late: 0 } },
        { width: MINUTE_MS, start: "10:00:00", is: { count: 1, late: 0 } },
      ],
      rows: 4,
    },
  ];

  it.each(cases)("$name", (c) => {
    const result = aggregateWindows(c.observations, spec, {
      maxEventTimeMs: new Map((c.maxEventTime ?? []).map(([t, iso]) => [t, T(iso)])),
      nowMs: NOW,
    });
    expect(result.deltas).toHaveLength(c.rows);
    for (const e of c.expect) {
      const delta = find(result.deltas, e.width, e.start, e.key);
      expect(delta, `${e.width} ${e.start} ${JSON.stringify(e.key ?? {})}`).toBeDefined();
      expect(delta).toMatchObject(e.is);
    }
    // Sorted, so writers lock rows in one order.
    const sorted = [...result.deltas].sort(compareWindowKeys);
    expect(result.deltas).toEqual(sorted);
  });

  it("returns the newest trusted event time of each tenant whose time moved", () => {
    const result = aggregateWindows(
      [
        obs("10:00:00"),
        obs("10:05:00"),
        obs("10:01:00"),
        obs("10:00:00", { tenant: "t2" }),
        obs("13:00:00"),
      ],
      spec,
      { maxEventTimeMs: new Map([["t3", T("09:00:00")]]), nowMs: NOW },
    );
    expect(result.maxEventTimeMs).toEqual(
      new Map([
        ["t1", T("10:05:00")],
        ["t2", T("10:00:00")],
      ]),
    );
  });

  it("an hour row always equals the sum of its minute rows", () => {
    // Pseudo-random but fixed sample (LCG), so a failure is reproducible.
    let seed = 42;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const observations = Array.from({ length: 2000 }, () =>
      obs("10:00:00", {
        eventTimeMs: T("10:00:00") + Math.floor(rand() * 2 * HOUR_MS),
        eventName: rand() < 0.5 ? "Purchase" : "Lead",
        currency: "USD",
        valueMicros: BigInt(Math.floor(rand() * 1e8)),
        matchQuality: Math.floor(rand() * 40) / 4,
        attributed: rand() < 0.3,
      }),
    );
    const { deltas } = aggregateWindows(observations, spec, {
      maxEventTimeMs: new Map(),
      nowMs: NOW,
    });
    const hours = deltas.filter((d) => d.widthMs === HOUR_MS);
    expect(hours.length).toBe(4);
    for (const hour of hours) {
      const minutes = deltas.filter(
        (d) =>
          d.widthMs === MINUTE_MS &&
          d.eventName === hour.eventName &&
          d.windowStartMs >= hour.windowStartMs &&
          d.windowStartMs < hour.windowStartMs + HOUR_MS,
      );
      expect(minutes.reduce((a, d) => a + d.count, 0)).toBe(hour.count);
      const sumValues = (ds: WindowDelta[]) =>
        ds.flatMap((d) => d.values).reduce((a, v) => a + v.valueMicros, 0n);
      expect(sumValues(minutes)).toBe(sumValues([hour]));
      expect(minutes.reduce((a, d) => a + d.matchQualitySum, 0)).toBe(hour.matchQualitySum);
      expect(minutes.reduce((a, d) => a + d.conversions, 0)).toBe(hour.conversions);
      // A minute closes before its hour, so the minutes hold at least the hour's late events.
      expect(minutes.reduce((a, d) => a + d.late, 0)).toBeGreaterThanOrEqual(hour.late);
    }
    expect(deltas.filter((d) => d.widthMs === MINUTE_MS).reduce((a, d) => a + d.count, 0)).toBe(
      2000,
    );
  });

  it("rejects a NUL in a dimension with a clear error", () => {
    expect(() =>
      aggregateWindows([obs("10:00:00", { campaign: "a\u0000b" })], spec, {
        maxEventTimeMs: new Map(),
        nowMs: NOW,
      }),
    ).toThrow(ValidationError);
  });
});
