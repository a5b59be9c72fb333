/** Per-key request limits: the record's own, else the default for its roles; and their IETF RateLimit header values. */
import { z } from "zod";

/** Most requests a key may be given per window; the window is at most a day. */
export const MAX_KEY_REQUESTS = 100_000_000;
export const MAX_KEY_WINDOW_SECONDS = 86_400;

/** A key's own request limit: `requests` per sliding window of `windowSeconds`. */
export const KeyRateLimitSchema = z.object({
  requests: z.number().int().min(1).max(MAX_KEY_REQUESTS),
  windowSeconds: z.number().int().min(1).max(MAX_KEY_WINDOW_SECONDS),
});
export type KeyRateLimit = z.infer<typeof KeyRateLimitSchema>;

/** The Worker's defaults for keys that carry no limit of their own. */
export interface DefaultRateLimits {
  /** Requests per window for keys without the `ingest` role. */
  requests: number;
  /** Requests per window for keys with the `ingest` role (websites send one event per request). */
  ingestRequests: number;
  windowSeconds: number;
}

/**
 * The limit a key's requests are counted against: its own when it has one, else the default for
 * its roles, the larger one when a key has the `ingest` role besides others.
 */
export function keyRateLimit(
  record: { roles: readonly string[]; rateLimit?: KeyRateLimit | undefined },
  defaults: DefaultRateLimits,
): KeyRateLimit {
  if (record.rateLimit !== undefined) return record.rateLimit;
  const requests = record.roles.includes("ingest")
    ? Math.max(defaults.requests, defaults.ingestRequests)
    : defaults.requests;
  return { requests, windowSeconds: defaults.windowSeconds };
}

const UNIT_SECONDS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3_600, d: 86_400 };

/**
 * Reads `<requests>/<window>` as operators write it: `600/60s`, `600/min`, `100000/1h`, or a bare
 * number of seconds (`600/60`); a bare `<requests>` takes `defaultWindowSeconds`. Returns the
 * limit or a message saying what to write.
 */
export function parseKeyRateLimit(
  text: string,
  defaultWindowSeconds = 60,
): { ok: true; value: KeyRateLimit } | { ok: false; message: string } {
  const match = /^\s*(\d+)\s*(?:\/\s*(\d*)\s*([a-z]*)\s*)?$/i.exec(text);
  const unit = match?.[3]?.toLowerCase() ?? "";
  const perUnit = unit === "" ? 1 : UNIT_SECONDS[unit];
  if (!match || perUnit === undefined || (match[2] === "" && unit === "")) {
    return {
      ok: false,
      message: `"${text}" is not a rate limit; write <requests>/<window>, e.g. 600/60s, 600/min or 100000/1h`,
    };
  }
  const windowSeconds =
    match[2] === undefined ? defaultWindowSeconds : Number(match[2] || "1") * perUnit;
  const parsed = KeyRateLimitSchema.safeParse({ requests: Number(match[1]), windowSeconds });
  if (!parsed.success) {
    return {
      ok: false,
      message: `"${text}" is out of range: 1 to ${MAX_KEY_REQUESTS.toLocaleString("en")} requests per 1 s to 1 day`,
    };
  }
  return { ok: true, value: parsed.data };
}

/**
 * `RateLimit-Policy` and `RateLimit` field values (draft-ietf-httpapi-ratelimit-headers-11,
 * Structured Field lists): the policy's quota `q` per window `w` seconds, and the remaining
 * quota `r` with `t` seconds until it is restored. Hand-written: two short Structured Field
 * items, with a token-safe policy name, need no library.
 */
export function rateLimitHeaderValues(input: {
  policy: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
}): { policy: string; rateLimit: string } {
  const name = JSON.stringify(input.policy);
  return {
    policy: `${name};q=${input.limit};w=${input.windowSeconds}`,
    rateLimit: `${name};r=${Math.max(0, input.remaining)};t=${Math.max(0, input.resetSeconds)}`,
  };
}
