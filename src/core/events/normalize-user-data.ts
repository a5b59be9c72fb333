/** Turns a sender's `user_data` into Meta-ready `user_data`: contact fields normalised and SHA-256 hashed. */

import type { FieldIssue } from "../errors";
import { normalizeUserDataValue } from "./normalize-user-data-value";
import { sha256Hex } from "./sha256-hex";
import {
  type HashedField,
  MULTI_VALUE_HASHED_FIELDS,
  SINGLE_VALUE_HASHED_FIELDS,
  UNHASHED_FIELDS,
} from "./user-data-fields";
import type { HashedUserData, UserDataInput } from "./user-data-schema";

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
  const hashed: Record<string, string | string[]> = {};
  const issues: FieldIssue[] = [];

  const hashOne = (field: HashedField, raw: string, path: string): string | undefined => {
    const result = normalizeUserDataValue(field, raw);
    switch (result.kind) {
      case "empty":
        return undefined;
      case "invalid":
        issues.push({ field: path, message: result.message });
        return undefined;
      case "prehashed":
        return result.value;
      case "normalized":
        return sha256Hex(result.value);
    }
  };

  for (const field of MULTI_VALUE_HASHED_FIELDS) {
    const value = userData[field];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    const listed = Array.isArray(value);
    const hashes = values.map((v, i) =>
      hashOne(field, String(v), listed ? `${field}.${i}` : field),
    );
    // The SDK deduplicates after hashing (`new Set`), keeping first-seen order.
    const unique = [...new Set(hashes.filter((h): h is string => h !== undefined))];
    if (unique.length > 0) hashed[field] = unique;
  }
  for (const field of SINGLE_VALUE_HASHED_FIELDS) {
    const value = userData[field];
    if (value === undefined) continue;
    const hash = hashOne(field, value, field);
    if (hash !== undefined) hashed[field] = hash;
  }

  for (const field of UNHASHED_FIELDS) {
    const value = userData[field];
    if (value !== undefined) hashed[field] = String(value);
  }

  return { hashed: orderKeys(hashed) as HashedUserData, issues };
}

const ORDER: ReadonlyMap<string, number> = new Map(
  [...MULTI_VALUE_HASHED_FIELDS, ...SINGLE_VALUE_HASHED_FIELDS, ...UNHASHED_FIELDS].map((f, i) => [
    f,
    i,
  ]),
);

/** Keys in Meta's documented order, so equal inputs serialise to equal messages. */
function orderKeys(record: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const field of ORDER.keys()) {
    const value = record[field];
    if (value !== undefined) out[field] = value;
  }
  return out;
}
