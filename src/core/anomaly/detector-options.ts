/** The detector's options: their types, defaults and checks (a ValidationError naming each bad field). */
import { ValidationError } from "../errors.ts";
import { MAX_COUNT } from "./detector-state.ts";

/** `count`: event volumes (Poisson floor on the spread, drop-to-zero rule); `level`: rates, means, shares. */
export type SeriesKind = "count" | "level";

/** Which departures count: both, only falls (match quality) or only rises (rejected share). */
export type AnomalyDirection = "both" | "down" | "up";

export interface DetectorOptions {
  /** Default `count`. */
  kind?: SeriesKind;
  /** Default `both`. */
  direction?: AnomalyDirection;
  /** Offset of the series' local time from UTC for its hour-of-day × day-of-week buckets, minutes. Default 0. */
  timeZoneOffsetMinutes?: number;
  /** Observations before any alert (the warm-up, together with warmupMs). Default 60. */
  warmupPoints?: number;
  /** Time from the first observation before any alert, ms: one daily cycle. Default 86 400 000. */
  warmupMs?: number;
  /**
   * Observations a seasonal bucket needs before it is trusted; until then the detector falls
   * back from hour-of-week to hour-of-day to one global level. Default 10.
   */
  minBucketPoints?: number;
  /** Per-observation learning rate of each bucket's median/MAD (memory ≈ 1/decay observations). Default 0.02. */
  decay?: number;
  /** Robust z (residual / (1.4826·MAD)) of a single-point spike or dip. Default 6. */
  threshold?: number;
  /** CUSUM allowance k, in robust standard deviations. Default 0.75. */
  cusumAllowance?: number;
  /** CUSUM decision limit h. Default 12. */
  cusumLimit?: number;
  /** Residuals are clipped to ±this before CUSUM, so one outlier cannot fire it alone. Default 4. */
  cusumClip?: number;
  /**
   * Drop to zero (kind `count`): zero observations in a row while this many events were expected
   * in total over the run. Default 10 (Poisson: e^−10 ≈ 5e−5 that a live series shows it).
   */
  zeroExpectedFloor?: number;
  /** Smallest spread assumed, in the series' units. Default 1 for counts, 1e-9 for levels. */
  minScale?: number;
  /** Smallest spread assumed as a share of the expected value. Default 0.05. */
  relativeMinScale?: number;
  /**
   * While an anomaly is open the baseline does not learn (an anomaly is not the new normal); once
   * it has been open this long, ms, learning resumes so a lasting change becomes the new normal
   * and resolves. Default 86 400 000 (a day). Zeros of a drop are never learned.
   */
  relearnAfterMs?: number;
  /** An open anomaly resolves after this many points in a row within ±resolveZ. Default 10. */
  resolveAfter?: number;
  /** Default 2. */
  resolveZ?: number;
}

export type ResolvedDetectorOptions = Required<DetectorOptions>;

export const DEFAULT_DETECTOR_OPTIONS: Readonly<ResolvedDetectorOptions> = Object.freeze({
  kind: "count",
  direction: "both",
  timeZoneOffsetMinutes: 0,
  warmupPoints: 60,
  warmupMs: 86_400_000,
  minBucketPoints: 10,
  decay: 0.02,
  threshold: 6,
  cusumAllowance: 0.75,
  cusumLimit: 12,
  cusumClip: 4,
  zeroExpectedFloor: 10,
  minScale: 1,
  relativeMinScale: 0.05,
  relearnAfterMs: 86_400_000,
  resolveAfter: 10,
  resolveZ: 2,
});

/** Options with defaults filled in and checked; throws a ValidationError naming a bad one. */
export function resolveDetectorOptions(options: DetectorOptions = {}): ResolvedDetectorOptions {
  const kind = options.kind ?? DEFAULT_DETECTOR_OPTIONS.kind;
  const resolved: ResolvedDetectorOptions = {
    ...DEFAULT_DETECTOR_OPTIONS,
    minScale: kind === "count" ? 1 : 1e-9,
    ...stripUndefined(options),
  };
  const positive: (keyof ResolvedDetectorOptions)[] = [
    "threshold",
    "cusumAllowance",
    "cusumLimit",
    "cusumClip",
    "zeroExpectedFloor",
    "minScale",
    "resolveZ",
  ];
  const issues: { field: string; message: string }[] = [];
  for (const f of positive) {
    const v = resolved[f];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      issues.push({ field: f, message: "must be a positive finite number" });
  }
  for (const f of ["warmupPoints", "minBucketPoints", "resolveAfter"] as const) {
    const v = resolved[f];
    if (!Number.isInteger(v) || v < 1 || v > 1e9)
      issues.push({ field: f, message: "must be a whole number ≥ 1" });
  }
  if (resolved.minBucketPoints > MAX_COUNT)
    issues.push({ field: "minBucketPoints", message: `must be at most ${MAX_COUNT}` });
  if (!(resolved.decay > 0 && resolved.decay <= 1))
    issues.push({ field: "decay", message: "must be in (0, 1]" });
  if (!(resolved.relativeMinScale >= 0 && Number.isFinite(resolved.relativeMinScale)))
    issues.push({ field: "relativeMinScale", message: "must be ≥ 0" });
  for (const f of ["warmupMs", "relearnAfterMs"] as const) {
    if (!(resolved[f] >= 0 && Number.isFinite(resolved[f])))
      issues.push({ field: f, message: "must be a finite number ≥ 0" });
  }
  if (
    !Number.isFinite(resolved.timeZoneOffsetMinutes) ||
    Math.abs(resolved.timeZoneOffsetMinutes) > 14 * 60
  )
    issues.push({ field: "timeZoneOffsetMinutes", message: "must be within ±840 minutes" });
  if (kind !== "count" && kind !== "level")
    issues.push({ field: "kind", message: 'must be "count" or "level"' });
  if (!["both", "down", "up"].includes(resolved.direction))
    issues.push({ field: "direction", message: 'must be "both", "down" or "up"' });
  if (issues.length > 0) {
    throw new ValidationError(
      `invalid detector options: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}`,
      issues,
    );
  }
  return resolved;
}

/** Resolved options per options object: detectors of one kind share one (memory per series). */
const resolved = new WeakMap<DetectorOptions, ResolvedDetectorOptions>();
let defaults: ResolvedDetectorOptions | undefined;

export function resolveMemo(options: DetectorOptions | undefined): ResolvedDetectorOptions {
  if (options === undefined) {
    defaults ??= Object.freeze(resolveDetectorOptions()) as ResolvedDetectorOptions;
    return defaults;
  }
  let o = resolved.get(options);
  if (o === undefined) {
    o = Object.freeze(resolveDetectorOptions(options)) as ResolvedDetectorOptions;
    resolved.set(options, o);
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
