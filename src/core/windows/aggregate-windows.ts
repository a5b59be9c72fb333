/** Folds a batch of observations into additive per-window deltas, classifying late arrivals by watermark. */
import { ValidationError } from "../errors.ts";
import {
  advanceMaxEventTime,
  isWindowClosed,
  type WatermarkSpec,
  watermarkMs,
} from "./watermark.ts";
import { HOUR_MS, MINUTE_MS, windowStartMs } from "./window-start-ms.ts";

/**
 * One counted record. `event`: a conversion event; `prediction`: a scored row (by convention
 * source `predictions`, eventName = model name), counted in `predictions` only.
 */
export interface WindowObservation {
  kind: "event" | "prediction";
  tenant: string;
  /** Where it came from: `web`, `capi`, `predictions`. */
  source: string;
  /** Event name (`Purchase`), or the model name for a prediction. */
  eventName: string;
  /** Campaign it is attributed to; "" when none. */
  campaign: string;
  /** Event time (scoring time for a prediction), epoch ms. */
  eventTimeMs: number;
  /** Monetary value in micro-units of `currency` (see toMicros); undefined when none. */
  valueMicros?: bigint | undefined;
  /** ISO 4217 code, upper case; required for the value to be summed. */
  currency?: string | undefined;
  /** Event match quality 0–10; undefined when not scored. */
  matchQuality?: number | undefined;
  /** True when the event names the scored prediction it converts. */
  attributed: boolean;
}

/** Identifies one stored window row. Every metric of a delta is additive over time. */
export interface WindowKey {
  tenant: string;
  widthMs: number;
  windowStartMs: number;
  source: string;
  eventName: string;
  campaign: string;
}

/** Value sum of one currency in one window. */
export interface CurrencyDelta {
  currency: string;
  valueMicros: bigint;
  /** Events that carried a value in this currency. */
  valueCount: number;
}

export interface WindowDelta extends WindowKey {
  /** Events in the window, late ones included. */
  count: number;
  /** Of `count`, those that arrived after the watermark had closed the window. */
  late: number;
  /** Sum and count of match-quality scores; the mean is sum / count. */
  matchQualitySum: number;
  matchQualityCount: number;
  /** Scored predictions in the window. */
  predictions: number;
  /** Events that name the scored prediction they convert. */
  conversions: number;
  /** Sorted by currency; empty when no event carried a value. */
  values: CurrencyDelta[];
}

export interface WindowingSpec extends WatermarkSpec {
  /** Window widths kept for every observation, ms; each one is a separate row. */
  widthsMs: readonly number[];
}

export const DEFAULT_WINDOWING: WindowingSpec = {
  widthsMs: [MINUTE_MS, HOUR_MS],
  allowedLatenessMs: 120_000,
  maxFutureSkewMs: 300_000,
};

export interface WindowingState {
  /** Newest trusted event time per tenant before this batch, epoch ms. */
  maxEventTimeMs: ReadonlyMap<string, number>;
  /** Processing time, epoch ms (bounds how far ahead the watermark may move). */
  nowMs: number;
}

export interface WindowAggregate {
  /** One delta per window key, sorted by key (writers that lock rows in one order cannot deadlock). */
  deltas: WindowDelta[];
  /** Newest trusted event time per tenant after this batch; only tenants whose time moved. */
  maxEventTimeMs: Map<string, number>;
}

// NUL cannot occur in a dimension (rejected below; Postgres text cannot hold it either), so it
// separates the parts of a map key unambiguously.
const SEP = "\u0000";

interface Accumulator {
  delta: WindowDelta;
  values: Map<string, CurrencyDelta>;
}

/**
 * Observations are folded in order; each event is classified against its tenant's watermark as it
 * stood just before it (so the result depends only on the order within a partition). Late events
 * are counted in their window like any other and additionally in `late`: nothing is dropped, and
 * `late` tells how much of a window changed after it was closed. Only events move the watermark.
 */
export function aggregateWindows(
  observations: Iterable<WindowObservation>,
  spec: WindowingSpec,
  state: WindowingState,
): WindowAggregate {
  const maxByTenant = new Map<string, number>();
  const widths = spec.widthsMs;
  // Accumulators by dimensions, then per width (by index) by window start: one string key per
  // observation (a template, not [...].join(SEP): no array on the hot path), numbers below it.
  const byDimensions = new Map<string, Map<number, Accumulator>[]>();
  for (const o of observations) {
    assertDimensions(o);
    const isEvent = o.kind === "event";
    const previousMax = maxByTenant.get(o.tenant) ?? state.maxEventTimeMs.get(o.tenant);
    const watermark = watermarkMs(previousMax, spec.allowedLatenessMs);
    const dimensions = `${o.tenant}${SEP}${o.source}${SEP}${o.eventName}${SEP}${o.campaign}`;
    let perWidth = byDimensions.get(dimensions);
    if (perWidth === undefined) {
      perWidth = widths.map(() => new Map<number, Accumulator>());
      byDimensions.set(dimensions, perWidth);
    }
    for (let w = 0; w < widths.length; w++) {
      const widthMs = widths[w] as number;
      const windows = perWidth[w] as Map<number, Accumulator>;
      const start = windowStartMs(o.eventTimeMs, widthMs);
      let acc = windows.get(start);
      if (acc === undefined) {
        acc = { delta: emptyDelta(o, widthMs, start), values: new Map() };
        windows.set(start, acc);
      }
      const delta = acc.delta;
      if (!isEvent) {
        delta.predictions += 1;
        continue;
      }
      delta.count += 1;
      if (isWindowClosed(start, widthMs, watermark)) delta.late += 1;
      if (o.valueMicros !== undefined && o.currency !== undefined) {
        let value = acc.values.get(o.currency);
        if (value === undefined) {
          value = { currency: o.currency, valueMicros: 0n, valueCount: 0 };
          acc.values.set(o.currency, value);
        }
        value.valueMicros += o.valueMicros;
        value.valueCount += 1;
      }
      if (o.matchQuality !== undefined) {
        delta.matchQualitySum += o.matchQuality;
        delta.matchQualityCount += 1;
      }
      if (o.attributed) delta.conversions += 1;
    }
    if (isEvent) {
      const nextMax = advanceMaxEventTime(
        previousMax,
        o.eventTimeMs,
        state.nowMs,
        spec.maxFutureSkewMs,
      );
      if (nextMax !== undefined && nextMax !== previousMax) maxByTenant.set(o.tenant, nextMax);
    }
  }
  const deltas: WindowDelta[] = [];
  for (const perWidth of byDimensions.values()) {
    for (const windows of perWidth) {
      for (const { delta, values } of windows.values()) {
        delta.values = [...values.values()].sort((a, b) => compareStrings(a.currency, b.currency));
        deltas.push(delta);
      }
    }
  }
  deltas.sort(compareWindowKeys);
  return { deltas, maxEventTimeMs: maxByTenant };
}

/** Total order on window keys: tenant, width, start, source, event name, campaign (the primary key). */
export function compareWindowKeys(a: WindowKey, b: WindowKey): number {
  return (
    compareStrings(a.tenant, b.tenant) ||
    a.widthMs - b.widthMs ||
    a.windowStartMs - b.windowStartMs ||
    compareStrings(a.source, b.source) ||
    compareStrings(a.eventName, b.eventName) ||
    compareStrings(a.campaign, b.campaign)
  );
}

function emptyDelta(o: WindowObservation, widthMs: number, start: number): WindowDelta {
  return {
    tenant: o.tenant,
    widthMs,
    windowStartMs: start,
    source: o.source,
    eventName: o.eventName,
    campaign: o.campaign,
    count: 0,
    late: 0,
    matchQualitySum: 0,
    matchQualityCount: 0,
    predictions: 0,
    conversions: 0,
    values: [],
  };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function assertDimensions(o: WindowObservation): void {
  // One concatenation instead of four checks: this runs once per observation on the hot path.
  if ((o.tenant + o.source + o.eventName + o.campaign).includes(SEP)) {
    throw new ValidationError(
      "Window dimensions (tenant, source, event name, campaign) must not contain U+0000.",
    );
  }
}
