/** The comparison baseline: a windowed Gaussian z-score over the previous points (no seasonality). */
import { ValidationError } from "../errors.ts";
import type { DetectorInput, DetectorPoint } from "./detector.ts";

export interface ZScoreDetectorOptions {
  /** Previous points the mean and standard deviation are taken over. Default 60. */
  window?: number;
  /** |z| that flags a point. Default 4. */
  threshold?: number;
  /** An open anomaly resolves after this many unflagged points in a row. Default 10. */
  resolveAfter?: number;
}

/**
 * What a plain monitor does: z = (x − mean) / sd of the last `window` points, flagged above
 * `threshold`, with the same open/resolve hysteresis as createDetector so the two compare fairly.
 */
export function createZScoreDetector(options: ZScoreDetectorOptions = {}): {
  update(input: DetectorInput): DetectorPoint;
} {
  const window = options.window ?? 60;
  const threshold = options.threshold ?? 4;
  const resolveAfter = options.resolveAfter ?? 10;
  if (!Number.isInteger(window) || window < 2)
    throw new ValidationError("window must be a whole number ≥ 2", [
      { field: "window", message: "must be a whole number ≥ 2" },
    ]);
  const ring = new Float64Array(window);
  let filled = 0;
  let next = 0;
  let sum = 0;
  let sumSq = 0;
  let open = false;
  let calm = 0;
  return {
    update({ t, value: x }: DetectorInput): DetectorPoint {
      const warm = filled === window;
      const mean = filled > 0 ? sum / filled : x;
      const sd =
        filled > 1 ? Math.sqrt(Math.max(0, (sumSq - (sum * sum) / filled) / (filled - 1))) : 0;
      const lower = mean - threshold * sd;
      const upper = mean + threshold * sd;
      if (!Number.isFinite(x)) {
        return { t, score: 0, anomaly: open, value: x, expected: mean, lower, upper, z: 0, warm };
      }
      const z = sd > 0 ? (x - mean) / sd : x === mean ? 0 : Math.sign(x - mean) * Infinity;
      const flagged = warm && Math.abs(z) >= threshold;
      let change: DetectorPoint["change"];
      if (flagged) {
        calm = 0;
        if (!open) {
          open = true;
          change = "detected";
        }
      } else if (open && ++calm >= resolveAfter) {
        open = false;
        calm = 0;
        change = "resolved";
      }
      if (filled === window) {
        const old = ring[next]!;
        sum -= old;
        sumSq -= old * old;
      } else filled += 1;
      ring[next] = x;
      next = (next + 1) % window;
      sum += x;
      sumSq += x * x;
      const a = Math.abs(z);
      const p: DetectorPoint = {
        t,
        score: Number.isFinite(a) ? a / (a + threshold) : 1,
        anomaly: open,
        value: x,
        expected: mean,
        lower,
        upper,
        z,
        warm,
      };
      if (change !== undefined) p.change = change;
      return p;
    },
  };
}
