/** A streaming anomaly detector for one regular series: seasonal robust baseline, CUSUM level shifts, drop to zero, warm-up. */
import { ValidationError } from "../errors.ts";
import { cusumDown, cusumUp } from "./cusum.ts";
import {
  DAY_BUCKETS,
  hourOfWeek,
  MAD_TO_SIGMA,
  updateRobustBucket,
  WEEK_BUCKETS,
} from "./seasonal-baseline.ts";

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

/** Why a point is anomalous (the strongest rule that fired). */
export type AnomalyReason =
  | "spike"
  | "dip"
  | "level-shift-up"
  | "level-shift-down"
  | "drop-to-zero";

export interface DetectorInput {
  /** Epoch ms. */
  t: number;
  /** Observed value; NaN means missing (no update, the state is reported as it stands). */
  value: number;
}

export interface DetectorPoint {
  t: number;
  /** 0..1; 0.5 is where the strongest rule reaches its threshold. */
  score: number;
  /** True while an anomaly is open (from the point it was detected until it resolves). */
  anomaly: boolean;
  value: number;
  /** The baseline's expected value (robust median of the matching seasonal bucket). */
  expected: number;
  /** Expected range: expected ∓ threshold · robust standard deviation (lower ≥ 0 for counts). */
  lower: number;
  upper: number;
  /** Robust z of the residual. */
  z: number;
  /** Past the warm-up: alerts may be raised. */
  warm: boolean;
  /** Set on the point that opened the anomaly and kept while it is open. */
  reason?: AnomalyReason;
  /** Set on the one point where the state changed. */
  change?: "detected" | "resolved";
}

export interface Detector {
  update(input: DetectorInput): DetectorPoint;
  /** The state as bytes (DETECTOR_STATE_BYTES, about 1.25 KB), to store and restore with `createDetector(options, state)`. */
  snapshot(): Uint8Array;
  readonly options: Readonly<ResolvedDetectorOptions>;
}

// State layout: one ArrayBuffer per detector (scalars, then bucket floats, then bucket counts),
// so a detector is a few typed-array views and snapshot/restore is one copy.
const S_TOTAL = 0;
const S_UP = 1;
const S_DOWN = 2;
const S_ZERO_EXPECTED = 3;
const S_NORMAL_RUN = 4;
const S_OPEN_SINCE = 5;
const S_REASON = 6;
const S_FIRST_T = 7;
const S_CALM_SUM = 8;
const SCALARS = 10;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const DAY_FLOATS = DAY_BUCKETS;
// Floats: weekly median, daily median, daily MAD, daily mean, global median/MAD/mean. The weekly
// buckets borrow the spread of their hour of day (a MAD per hour of the week would double the
// state for little: the Poisson and relative floors already follow the level).
const F_W_MED = 0;
const F_D_MED = F_W_MED + WEEK_BUCKETS;
const F_D_MAD = F_D_MED + DAY_FLOATS;
const F_D_MEAN = F_D_MAD + DAY_FLOATS;
const F_G = F_D_MEAN + DAY_FLOATS;
const FLOATS = F_G + 3;
const N_W = 0;
const N_D = WEEK_BUCKETS;
const N_G = WEEK_BUCKETS + DAY_BUCKETS;
const COUNTS = N_G + 1;
const SCALAR_BYTES = SCALARS * 8;
const FLOAT_BYTES = FLOATS * 4;
const STATE_BYTES = SCALAR_BYTES + FLOAT_BYTES + COUNTS;
/** Bucket counts saturate here (they only gate trust and the first exact steps). */
const MAX_COUNT = 255;
/** Observations of a bucket that set a running mean before the robust steps take over. */
const EXACT_POINTS = 30;
/** Spread multiplier of the hour-of-day fallback (squared for the global one). */
const FALLBACK_SPREAD = 2;
const STATE_MAGIC = 0x44_41_31; // "DA1": Driftline anomaly detector state, version 1
const HEADER_BYTES = 4;

const REASONS: readonly AnomalyReason[] = [
  "spike",
  "dip",
  "level-shift-up",
  "level-shift-down",
  "drop-to-zero",
];

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

/**
 * A detector for one series with `options` (defaults: DEFAULT_DETECTOR_OPTIONS), optionally
 * resumed from a `snapshot()`. Feed points in time order, one per regular step (minutes to
 * hours apart); each `update` is O(1) and allocates only its answer.
 *
 * @example
 * const d = createDetector();
 * for (const [t, value] of series) if (d.update({ t, value }).change === "detected") alert(t);
 */
export function createDetector(options?: DetectorOptions, state?: Uint8Array): Detector {
  return new SeasonalDetector(resolveMemo(options), state);
}

/** Resolved options per options object: detectors of one kind share one (memory per series). */
const resolved = new WeakMap<DetectorOptions, ResolvedDetectorOptions>();
let defaults: ResolvedDetectorOptions | undefined;

function resolveMemo(options: DetectorOptions | undefined): ResolvedDetectorOptions {
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

/** One series' detector: three typed-array views on one buffer, methods on the prototype. */
class SeasonalDetector implements Detector {
  readonly options: Readonly<ResolvedDetectorOptions>;
  private readonly sc: Float64Array;
  private readonly fl: Float32Array;
  private readonly n: Uint8Array;

  constructor(o: ResolvedDetectorOptions, state: Uint8Array | undefined) {
    this.options = o;
    const buffer = new ArrayBuffer(STATE_BYTES);
    if (state !== undefined) restoreInto(buffer, state);
    this.sc = new Float64Array(buffer, 0, SCALARS);
    this.fl = new Float32Array(buffer, SCALAR_BYTES, FLOATS);
    this.n = new Uint8Array(buffer, SCALAR_BYTES + FLOAT_BYTES, COUNTS);
    if (state === undefined) this.sc[S_OPEN_SINCE] = Number.NaN;
  }

  update(input: DetectorInput): DetectorPoint {
    const { options: o, sc, fl, n } = this;
    const offsetMs = o.timeZoneOffsetMinutes * 60_000;
    const count = o.kind === "count";
    const up = o.direction !== "down";
    const down = o.direction !== "up";
    const { t, value: x } = input;
    if (!Number.isFinite(t)) {
      throw new ValidationError("t must be a finite epoch-ms time", [
        { field: "t", message: "must be a finite number (epoch ms)" },
      ]);
    }
    const hw = hourOfWeek(t, offsetMs);
    const hd = hw % DAY_BUCKETS;
    // Each bucket's median describes the middle of its hour; between middles the expected value
    // is interpolated from the neighbouring hour's bucket (when trusted), so a daily cycle's
    // slope within an hour is not mistaken for a shift.
    const frac = ((((t + offsetMs) % HOUR_MS) + HOUR_MS) % HOUR_MS) / HOUR_MS;
    const w = frac < 0.5 ? 0.5 - frac : frac - 0.5;
    const side = frac < 0.5 ? -1 : 1;
    // The most specific trusted level: hour of week, else hour of day, else global.
    let m: number;
    let s: number;
    // Fallback levels do not know the day of the week (or the hour): their spread is widened by
    // FALLBACK_SPREAD and CUSUM waits for the weekly profile, so a Monday after a Sunday is not
    // taken for a level shift while the first week is learned.
    let spread = 1;
    // A profile is trusted once every bucket of it had its chance to be seen in full (a week,
    // a day since the first point) and this bucket has enough points.
    const age = sc[S_TOTAL]! > 0 ? t - sc[S_FIRST_T]! : 0;
    const weekly = age >= WEEK_MS && n[N_W + hw]! >= o.minBucketPoints;
    const daily = age >= DAY_MS && n[N_D + hd]! >= o.minBucketPoints;
    if (weekly) {
      const nb = (hw + side + WEEK_BUCKETS) % WEEK_BUCKETS;
      const v = n[N_W + nb]! >= o.minBucketPoints ? w : 0;
      m = (1 - v) * fl[F_W_MED + hw]! + v * fl[F_W_MED + nb]!;
      s = (1 - v) * fl[F_D_MAD + hd]! + v * fl[F_D_MAD + (nb % DAY_BUCKETS)]!;
    } else if (daily) {
      const nb = (hd + side + DAY_BUCKETS) % DAY_BUCKETS;
      const v = n[N_D + nb]! >= o.minBucketPoints ? w : 0;
      m = (1 - v) * fl[F_D_MED + hd]! + v * fl[F_D_MED + nb]!;
      s = (1 - v) * fl[F_D_MAD + hd]! + v * fl[F_D_MAD + nb]!;
      spread = FALLBACK_SPREAD;
    } else if (n[N_G]! > 0) {
      m = fl[F_G]!;
      s = fl[F_G + 1]!;
      spread = FALLBACK_SPREAD * FALLBACK_SPREAD;
    } else {
      m = Number.isFinite(x) ? x : 0;
      s = 0;
    }
    const meanExpected = daily ? fl[F_D_MEAN + hd]! : fl[F_G + 2]!;
    const sigma =
      spread *
      Math.max(
        MAD_TO_SIGMA * s,
        count ? Math.sqrt(Math.max(m, 0)) : 0,
        o.relativeMinScale * Math.abs(m),
        o.minScale,
      );
    const lowerRaw = m - o.threshold * sigma;
    const lower = count ? Math.max(0, lowerRaw) : lowerRaw;
    const upper = m + o.threshold * sigma;
    const openSince = sc[S_OPEN_SINCE]!;
    const open = !Number.isNaN(openSince);
    if (sc[S_TOTAL] === 0 && Number.isFinite(x)) sc[S_FIRST_T] = t;
    const warm = sc[S_TOTAL]! >= o.warmupPoints && t - sc[S_FIRST_T]! >= o.warmupMs;
    if (!Number.isFinite(x)) {
      return point(t, 0, open, x, m, lower, upper, 0, warm, undefined);
    }
    const z = (x - m) / sigma;

    // CUSUM on the clipped residual (only counted directions), reset during the warm-up.
    const zc = z > o.cusumClip ? o.cusumClip : Math.max(z, -o.cusumClip);
    const tracking = warm && weekly;
    let cUp = tracking && up ? cusumUp(sc[S_UP]!, zc, o.cusumAllowance) : 0;
    let cDown = tracking && down ? cusumDown(sc[S_DOWN]!, zc, o.cusumAllowance) : 0;

    // Drop to zero: the expected volume summed over the current run of zeros.
    let zeroExpected = sc[S_ZERO_EXPECTED]!;
    if (count && down && x <= 0 && warm) zeroExpected += Math.max(meanExpected, m, 0);
    else zeroExpected = 0;

    const spike = up && z >= o.threshold;
    const dip = down && -z >= o.threshold;
    const shiftUp = cUp >= o.cusumLimit;
    const shiftDown = cDown >= o.cusumLimit;
    const drop = zeroExpected >= o.zeroExpectedFloor;
    const absZ = (up && z > 0) || (down && z < 0) ? Math.abs(z) : 0;
    const cMax = Math.max(cUp, cDown);
    const score = Math.max(
      absZ / (absZ + o.threshold),
      cMax / (cMax + o.cusumLimit),
      zeroExpected / (zeroExpected + o.zeroExpectedFloor),
    );
    const reasonNow: AnomalyReason | undefined = drop
      ? "drop-to-zero"
      : shiftDown
        ? "level-shift-down"
        : shiftUp
          ? "level-shift-up"
          : dip
            ? "dip"
            : spike
              ? "spike"
              : undefined;
    const anomalous = warm && reasonNow !== undefined;
    // A fired CUSUM starts collecting fresh evidence (the open anomaly carries the state).
    if (shiftUp) cUp = 0;
    if (shiftDown) cDown = 0;

    let change: DetectorPoint["change"];
    let isOpen = open;
    if (anomalous) {
      sc[S_NORMAL_RUN] = 0;
      sc[S_CALM_SUM] = 0;
      if (!open) {
        sc[S_OPEN_SINCE] = t;
        sc[S_REASON] = REASONS.indexOf(reasonNow);
        change = "detected";
        isOpen = true;
      }
    } else if (open) {
      const calm = Math.abs(z) < o.resolveZ && zeroExpected < o.zeroExpectedFloor / 2;
      sc[S_NORMAL_RUN] = calm ? sc[S_NORMAL_RUN]! + 1 : 0;
      sc[S_CALM_SUM] = calm ? sc[S_CALM_SUM]! + z : 0;
      // Resolved when the calm run's mean residual is back within the allowance too: a level
      // that stays shifted (noise within ±resolveZ around a new mean) does not flap.
      if (
        sc[S_NORMAL_RUN]! >= o.resolveAfter &&
        Math.abs(sc[S_CALM_SUM]! / sc[S_NORMAL_RUN]!) >= o.cusumAllowance
      ) {
        sc[S_NORMAL_RUN] = 0;
        sc[S_CALM_SUM] = 0;
      }
      if (sc[S_NORMAL_RUN]! >= o.resolveAfter) {
        sc[S_OPEN_SINCE] = Number.NaN;
        sc[S_NORMAL_RUN] = 0;
        sc[S_CALM_SUM] = 0;
        cUp = 0;
        cDown = 0;
        change = "resolved";
        isOpen = false;
      }
    }
    sc[S_UP] = cUp;
    sc[S_DOWN] = cDown;
    sc[S_ZERO_EXPECTED] = zeroExpected;
    const reason = isOpen || change === "resolved" ? REASONS[sc[S_REASON]!] : undefined;

    // Learn, except while an anomaly is young (it is not the new normal) and never from the
    // zeros of a drop (an outage is not a level). Robust estimates move at most one step per
    // point; the means learn a clipped value.
    const frozen =
      isOpen && ((x <= 0 && reason === "drop-to-zero") || t - sc[S_OPEN_SINCE]! < o.relearnAfterMs);
    if (!frozen) this.learn(hw, hd, x, warm ? m : x, sigma);
    return point(t, score, isOpen, x, m, lower, upper, z, warm, reason, change);
  }

  private learn(hw: number, hd: number, x: number, m: number, sigma: number): void {
    const { options: o, sc, fl, n } = this;
    const rate = o.decay;
    const minStep = o.minScale;
    // The hour of day first: the weekly bucket steps in units of its (fresh) spread.
    updateRobustBucket(
      fl,
      F_D_MED + hd,
      F_D_MAD + hd,
      true,
      n[N_D + hd]!,
      x,
      rate,
      minStep,
      EXACT_POINTS,
    );
    updateRobustBucket(
      fl,
      F_W_MED + hw,
      F_D_MAD + hd,
      false,
      n[N_W + hw]!,
      x,
      rate,
      minStep,
      EXACT_POINTS,
    );
    updateRobustBucket(fl, F_G, F_G + 1, true, n[N_G]!, x, rate, minStep, EXACT_POINTS);
    const bound = o.cusumClip * sigma;
    const clipped = x > m + bound ? m + bound : Math.max(x, m - bound);
    const dn = n[N_D + hd]!;
    fl[F_D_MEAN + hd] =
      dn === 0
        ? x
        : fl[F_D_MEAN + hd]! + (clipped - fl[F_D_MEAN + hd]!) * Math.max(rate, 1 / (dn + 1));
    const gn = n[N_G]!;
    fl[F_G + 2] =
      gn === 0 ? x : fl[F_G + 2]! + (clipped - fl[F_G + 2]!) * Math.max(rate, 1 / (gn + 1));
    if (n[N_W + hw]! < MAX_COUNT) n[N_W + hw] = n[N_W + hw]! + 1;
    if (dn < MAX_COUNT) n[N_D + hd] = dn + 1;
    if (gn < MAX_COUNT) n[N_G] = gn + 1;
    sc[S_TOTAL] = sc[S_TOTAL]! + 1;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + STATE_BYTES);
    new DataView(out.buffer).setUint32(0, STATE_MAGIC);
    out.set(new Uint8Array(this.sc.buffer), HEADER_BYTES);
    return out;
  }
}

function point(
  t: number,
  score: number,
  anomaly: boolean,
  value: number,
  expected: number,
  lower: number,
  upper: number,
  z: number,
  warm: boolean,
  reason: AnomalyReason | undefined,
  change?: DetectorPoint["change"],
): DetectorPoint {
  const p: DetectorPoint = { t, score, anomaly, value, expected, lower, upper, z, warm };
  if (reason !== undefined) p.reason = reason;
  if (change !== undefined) p.change = change;
  return p;
}

/** Bytes of a detector's snapshot. */
export const DETECTOR_STATE_BYTES = HEADER_BYTES + STATE_BYTES;

function restoreInto(buffer: ArrayBuffer, state: Uint8Array): void {
  if (
    state.byteLength !== HEADER_BYTES + STATE_BYTES ||
    new DataView(state.buffer, state.byteOffset, state.byteLength).getUint32(0) !== STATE_MAGIC
  ) {
    throw new ValidationError(
      `detector state must be a ${HEADER_BYTES + STATE_BYTES}-byte snapshot of this detector version, got ${state.byteLength} bytes`,
      [{ field: "state", message: "is not a snapshot of this detector version" }],
    );
  }
  new Uint8Array(buffer).set(state.subarray(HEADER_BYTES));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
