/** Input checks shared by the statistics core: each failure is a ValidationError naming what to fix. */

import { ValidationError } from "../errors.ts";

/** Throws unless `values` is a non-empty array-like of finite numbers. */
export function assertFiniteSample(values: ArrayLike<number>, field: string): void {
  if (values === null || typeof values !== "object" || typeof values.length !== "number") {
    throw new ValidationError(`${field} must be an array of numbers`, [
      { field, message: "expected an array of numbers" },
    ]);
  }
  if (values.length === 0) {
    throw new ValidationError(`${field} is empty: at least one value is needed`, [
      { field, message: "must not be empty" },
    ]);
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ValidationError(
        `${field}[${i}] is ${String(v)}: every value must be a finite number (drop or impute missing values first)`,
        [{ field: `${field}.${i}`, message: "must be a finite number" }],
      );
    }
  }
}

/** Throws unless `counts` is a non-empty array of finite non-negative numbers. */
export function assertCounts(counts: ArrayLike<number>, field: string): void {
  if (counts === null || typeof counts !== "object" || typeof counts.length !== "number") {
    throw new ValidationError(`${field} must be an array of counts`, [
      { field, message: "expected an array of non-negative numbers" },
    ]);
  }
  if (counts.length === 0) {
    throw new ValidationError(`${field} is empty: one count per bin is needed`, [
      { field, message: "must not be empty" },
    ]);
  }
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (typeof c !== "number" || !Number.isFinite(c) || c < 0) {
      throw new ValidationError(
        `${field}[${i}] is ${String(c)}: counts must be finite and non-negative`,
        [{ field: `${field}.${i}`, message: "must be a finite non-negative number" }],
      );
    }
  }
}

/** Throws unless `value` is a finite number within [min, max] (and an integer when asked). */
export function assertNumberOption(
  value: number,
  field: string,
  range: { min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean },
): void {
  const { min, max, exclusiveMin = false, integer = false } = range;
  const bad =
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    (min !== undefined && (exclusiveMin ? value <= min : value < min)) ||
    (max !== undefined && value > max);
  if (bad) {
    const parts: string[] = [];
    if (integer) parts.push("an integer");
    if (min !== undefined) parts.push(`${exclusiveMin ? ">" : ">="} ${min}`);
    if (max !== undefined) parts.push(`<= ${max}`);
    const want = parts.length > 0 ? parts.join(", ") : "a finite number";
    throw new ValidationError(`${field} is ${String(value)}: it must be ${want}`, [
      { field, message: `must be ${want}` },
    ]);
  }
}

/** Sum of an array-like of numbers. */
export function sumOf(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return s;
}
