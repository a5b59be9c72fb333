/** The byte layout of a detector's state (one ArrayBuffer: scalars, bucket floats, bucket counts), its snapshot and restore. */
import { ValidationError } from "../errors.ts";
import { DAY_BUCKETS, WEEK_BUCKETS } from "./seasonal-baseline.ts";

// State layout: one ArrayBuffer per detector (scalars, then bucket floats, then bucket counts),
// so a detector is a few typed-array views and snapshot/restore is one copy.
export const S_TOTAL = 0;
export const S_UP = 1;
export const S_DOWN = 2;
export const S_ZERO_EXPECTED = 3;
export const S_NORMAL_RUN = 4;
export const S_OPEN_SINCE = 5;
export const S_REASON = 6;
export const S_FIRST_T = 7;
export const S_CALM_SUM = 8;
/** Evidence of a fall of a count's rate (Poisson likelihood-ratio CUSUM). */
export const S_POISSON_DOWN = 9;
export const SCALARS = 10;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
export const DAY_FLOATS = DAY_BUCKETS;
// Floats: weekly median, daily median, daily MAD, daily mean, global median/MAD/mean. The weekly
// buckets borrow the spread of their hour of day (a MAD per hour of the week would double the
// state for little: the Poisson and relative floors already follow the level).
export const F_W_MED = 0;
export const F_D_MED = F_W_MED + WEEK_BUCKETS;
export const F_D_MAD = F_D_MED + DAY_FLOATS;
export const F_D_MEAN = F_D_MAD + DAY_FLOATS;
export const F_G = F_D_MEAN + DAY_FLOATS;
export const FLOATS = F_G + 3;
export const N_W = 0;
export const N_D = WEEK_BUCKETS;
export const N_G = WEEK_BUCKETS + DAY_BUCKETS;
export const COUNTS = N_G + 1;
export const SCALAR_BYTES = SCALARS * 8;
export const FLOAT_BYTES = FLOATS * 4;
export const STATE_BYTES = SCALAR_BYTES + FLOAT_BYTES + COUNTS;
/** Bucket counts saturate here (they only gate trust and the first exact steps). */
export const MAX_COUNT = 255;
/** Observations of a bucket that set a running mean before the robust steps take over. */
export const EXACT_POINTS = 30;
/** Spread multiplier of the hour-of-day fallback (squared for the global one). */
export const FALLBACK_SPREAD = 2;
export const STATE_MAGIC = 0x44_41_31; // "DA1": Driftline anomaly detector state, version 1
export const HEADER_BYTES = 4;

/** Bytes of a detector's snapshot. */
export const DETECTOR_STATE_BYTES = HEADER_BYTES + STATE_BYTES;

export function restoreInto(buffer: ArrayBuffer, state: Uint8Array): void {
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

/** The state as a snapshot: the version header, then the state's bytes. */
export function snapshotOf(buffer: ArrayBufferLike): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + STATE_BYTES);
  new DataView(out.buffer).setUint32(0, STATE_MAGIC);
  out.set(new Uint8Array(buffer), HEADER_BYTES);
  return out;
}
