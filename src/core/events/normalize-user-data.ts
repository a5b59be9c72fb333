/** Turns a sender's `user_data` into Meta-ready `user_data`: contact fields normalised and SHA-256 hashed. */

import type { FieldIssue } from "../errors.ts";
import { normalizeUserDataValue } from "./normalize-user-data-value.ts";
import { sha256Hex } from "./sha256-hex.ts";
import {
  type HashedField,
  MULTI_VALUE_HASHED_FIELDS,
  SINGLE_VALUE_HASHED_FIELDS,
  UNHASHED_FIELDS,
} from "./user-data-fields.ts";
import type { HashedUserData, UserDataInput } from "./user-data-schema.ts";

export interface NormalizedUserData {
  /** Meta's field names; contact fields hashed, list fields deduplicated like the SDK does. */
  hashed: HashedUserData;
  /**
   * One entry per refused value, `field` relative to `user_data` (`em`, `ph.1`). A caller that
   * finds issues should reject the event: the refused values are left out of `hashed`.
   */
  issues: FieldIssue[];
}

/**
 * Normalises and hashes every contact field exactly as Meta's Business SDK
 * (`ServerSideUtils.normalizeAndHash`) does; values that are already SHA-256/MD5 hex pass through;
 * blank values are dropped; unhashed identifiers (ip, user agent, fbc, fbp, Meta ids) are copied,
 * numbers as decimal text. Never puts a raw contact value into the result or into an issue.
 *
 * Async so that the hash backend can change (e.g. to WebCrypto) without changing callers; today
 * it completes synchronously.
 */
export async function normalizeUserData(userData: UserDataInput): Promise<NormalizedUserData> {
  return createUserDataNormalizer()(userData);
}

/** What one raw value of one field comes to: its hash, nothing (blank), or why it is refused. */
type ValueOutcome = string | null | { message: string };

/**
 * Lookups of a field after which its cache is kept only if it answered at least one in
 * `MIN_HIT_SHARE`: a miss costs a lookup and an insert into a growing Map (and the garbage of
 * both), a hit saves a normalisation and a SHA-256 (about ten lookups' worth).
 */
const CACHE_TRIAL_LOOKUPS = 64;
const MIN_HIT_SHARE = 0.1;

/** One field's remembered outcomes, and whether remembering still pays for it in this batch. */
interface FieldCache {
  byValue: Map<string, ValueOutcome>;
  lookups: number;
  hits: number;
  on: boolean;
}

function outcomeOfValue(field: HashedField, raw: string): ValueOutcome {
  const result = normalizeUserDataValue(field, raw);
  switch (result.kind) {
    case "empty":
      return null;
    case "invalid":
      return { message: result.message };
    case "prehashed":
      return result.value;
    case "normalized":
      return sha256Hex(result.value);
  }
}

/**
 * `normalizeUserData` for many events, synchronously, remembering what each (field, raw value)
 * came to. The events of one batch often share values (country, state, city, gender, names, one
 * customer's email across their events), and each remembered value saves a normalisation and a
 * SHA-256. A field whose values hardly repeat in the batch (ids, emails of distinct customers)
 * stops being remembered after a trial (`CACHE_TRIAL_LOOKUPS`), so its misses cost nothing more.
 * Use one normaliser per batch: it holds the batch's raw values.
 */
export function createUserDataNormalizer(): (userData: UserDataInput) => NormalizedUserData {
  const caches = new Map<HashedField, FieldCache>();

  const outcomeOf = (field: HashedField, raw: string): ValueOutcome => {
    let cache = caches.get(field);
    if (cache === undefined) {
      cache = { byValue: new Map(), lookups: 0, hits: 0, on: true };
      caches.set(field, cache);
    }
    if (!cache.on) return outcomeOfValue(field, raw);
    cache.lookups++;
    const known = cache.byValue.get(raw);
    if (known !== undefined) {
      cache.hits++;
      return known;
    }
    const outcome = outcomeOfValue(field, raw);
    if (cache.lookups >= CACHE_TRIAL_LOOKUPS && cache.hits < cache.lookups * MIN_HIT_SHARE) {
      cache.on = false;
      cache.byValue.clear();
    } else {
      cache.byValue.set(raw, outcome);
    }
    return outcome;
  };

  return (userData) => {
    // Keys are added in Meta's documented order (list fields, single fields, unhashed ones), so
    // equal inputs serialise to equal messages.
    const hashed: Record<string, string | string[]> = {};
    const issues: FieldIssue[] = [];

    for (const field of MULTI_VALUE_HASHED_FIELDS) {
      const value = userData[field];
      if (value === undefined) continue;
      if (!Array.isArray(value)) {
        const outcome = outcomeOf(field, String(value));
        if (typeof outcome === "string") hashed[field] = [outcome];
        else if (outcome !== null) issues.push({ field, message: outcome.message });
        continue;
      }
      // The SDK deduplicates after hashing (`new Set`), keeping first-seen order.
      const unique: string[] = [];
      for (let i = 0; i < value.length; i++) {
        const outcome = outcomeOf(field, String(value[i]));
        if (typeof outcome === "string") {
          if (!unique.includes(outcome)) unique.push(outcome);
        } else if (outcome !== null) {
          issues.push({ field: `${field}.${i}`, message: outcome.message });
        }
      }
      if (unique.length > 0) hashed[field] = unique;
    }
    for (const field of SINGLE_VALUE_HASHED_FIELDS) {
      const value = userData[field];
      if (value === undefined) continue;
      const outcome = outcomeOf(field, value);
      if (typeof outcome === "string") hashed[field] = outcome;
      else if (outcome !== null) issues.push({ field, message: outcome.message });
    }
    for (const field of UNHASHED_FIELDS) {
      const value = userData[field];
      if (value !== undefined) hashed[field] = String(value);
    }
    return { hashed: hashed as HashedUserData, issues };
  };
}
