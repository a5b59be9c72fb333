/** zod fields for environment variables (strings in, typed values out), shared by the config schemas. */
import { z } from "zod";

/** `true`, `false`, `1` or `0`. */
export const envBool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { error: "must be true, false, 1 or 0" })
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

/** A whole number within [min, max]. */
export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

/** A TCP port, by default 1 to 65535 (`min` 0 lets the system pick one). */
export const envPort = (fallback: number, min = 1) => envInt(fallback, min, 65_535);

/** Optional, and unset when empty: `KEY=` in a .env file means "no value". */
export const envOptional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

/** A comma-separated list; blanks around and empty items are dropped. */
export const envList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    );
