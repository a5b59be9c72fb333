/** A streaming anomaly detector for one regular series: seasonal robust baseline, CUSUM level shifts, drop to zero, warm-up. */
import { ValidationError } from "../errors.ts";
import { cusumDown, cusumUp } from "./cusum.ts";
import {
  type DetectorOptions,
  type ResolvedDetectorOptions,
  resolveMemo,
} from "./detector-options.ts";
import {
  COUNTS,
  DAY_MS,
  EXACT_POINTS,
  F_D_MAD,
  F_D_MEAN,
  F_D_MED,
  F_G,
  F_W_MED,
  FALLBACK_SPREAD,
  FLOAT_BYTES,
  FLOATS,
  HOUR_MS,
  MAX_COUNT,
  N_D,
  N_G,
  N_W,
  restoreInto,
  S_CALM_SUM,
  S_DOWN,
  S_FIRST_T,
  S_NORMAL_RUN,
  S_OPEN_SINCE,
  S_POISSON_DOWN,
  S_REASON,
  S_TOTAL,
  S_UP,
  S_ZERO_EXPECTED,
  SCALAR_BYTES,
  SCALARS,
  STATE_BYTES,
  snapshotOf,
  WEEK_MS,
} from "./detector-state.ts";
import {
  DAY_BUCKETS,
  hourOfWeek,
  MAD_TO_SIGMA,
  updateRobustBucket,
  WEEK_BUCKETS,
} from "./seasonal-baseline.ts";

export {
  type AnomalyDirection,
  DEFAULT_DETECTOR_OPTIONS,
  type DetectorOptions,
  type ResolvedDetectorOptions,
  resolveDetectorOptions,
  type SeriesKind,
} from "./detector-options.ts";
export { DETECTOR_STATE_BYTES } from "./detector-state.ts";

/** The fall of a count's rate the Poisson CUSUM is tuned to detect (to half the expected rate). */
const POISSON_FALL = 0.5;
const LN_POISSON_FALL = Math.log(POISSON_FALL);

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

const REASONS: readonly AnomalyReason[] = [
  "spike",
  "dip",
  "level-shift-up",
  "level-shift-down",
  "drop-to-zero",
];

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
    // Counts: a likelihood-ratio CUSUM of the rate falling to POISSON_FALL of the expected one,
    // each step's evidence clipped like the residuals. On sparse series the z-based CUSUM sees a
    // 60 % fall of 2 a minute as noise within ±1σ; the Poisson likelihood weighs each zero.
    let cPoisson =
      tracking && down && count && m > 0
        ? Math.max(
            0,
            sc[S_POISSON_DOWN]! +
              Math.max(
                -o.cusumClip,
                Math.min(o.cusumClip, x * LN_POISSON_FALL + (1 - POISSON_FALL) * m),
              ),
          )
        : 0;

    // Drop to zero: the expected volume summed over the current run of zeros.
    let zeroExpected = sc[S_ZERO_EXPECTED]!;
    if (count && down && x <= 0 && warm) zeroExpected += Math.max(meanExpected, m, 0);
    else zeroExpected = 0;

    const spike = up && z >= o.threshold;
    const dip = down && -z >= o.threshold;
    const shiftUp = cUp >= o.cusumLimit;
    const shiftDown = cDown >= o.cusumLimit || cPoisson >= o.cusumLimit;
    const drop = zeroExpected >= o.zeroExpectedFloor;
    const absZ = (up && z > 0) || (down && z < 0) ? Math.abs(z) : 0;
    const cMax = Math.max(cUp, cDown, cPoisson);
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
    if (shiftDown) {
      cDown = 0;
      cPoisson = 0;
    }

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
        cPoisson = 0;
        change = "resolved";
        isOpen = false;
      }
    }
    sc[S_UP] = cUp;
    sc[S_DOWN] = cDown;
    sc[S_POISSON_DOWN] = cPoisson;
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
    return snapshotOf(this.sc.buffer);
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
