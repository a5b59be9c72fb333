/** Exact money arithmetic for window sums: values as integer micro-units (1e-6 of a currency unit). */
import { ValidationError } from "../errors.ts";

/** Largest absolute value accepted for one event, in currency units; beyond it is a sender bug. */
export const MAX_ABS_VALUE = 1e12;

const MICROS_PER_UNIT = 1_000_000n;

/**
 * `value` in micro-units, rounded to 6 decimals. Summing floats would drift (0.1 + 0.2); summing
 * integers is exact, so a window's value sum equals the sum of its events' values to the micro.
 */
export function toMicros(value: number): bigint {
  if (!Number.isFinite(value) || Math.abs(value) > MAX_ABS_VALUE) {
    throw new ValidationError(
      `Value must be a finite number between -${MAX_ABS_VALUE} and ${MAX_ABS_VALUE}, got ${value}.`,
    );
  }
  // toFixed rounds the double's exact decimal expansion; below 1e21 it never uses exponent form.
  return BigInt(value.toFixed(6).replace(".", ""));
}

/** Micro-units as a plain decimal string with 6 decimals (`-12.340000`), e.g. for a SQL numeric. */
export function formatMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const units = abs / MICROS_PER_UNIT;
  const fraction = (abs % MICROS_PER_UNIT).toString().padStart(6, "0");
  return `${negative ? "-" : ""}${units}.${fraction}`;
}
