/** The customer information (`user_data`) parameters of Meta's Conversions API, grouped by how Driftline treats them. */

/**
 * Parameters Meta's Business SDK sends as lists (`UserData.normalize()` turns each into a
 * deduplicated array of hashes). `external_id` is listed here too: the SDK forwards it unhashed,
 * Driftline hashes it (`normalizeAndHash(value, "external_id")`, i.e. trim + lower-case + SHA-256)
 * because a raw customer id must not leave the Worker and Meta accepts hashed external ids.
 */
export const MULTI_VALUE_HASHED_FIELDS = [
  "em",
  "ph",
  "fn",
  "ln",
  "db",
  "ge",
  "ct",
  "st",
  "zp",
  "country",
  "external_id",
] as const;

/** Parameters the SDK hashes as a single value (legacy offline-conversion fields and `app_user_id`). */
export const SINGLE_VALUE_HASHED_FIELDS = [
  "f5first",
  "f5last",
  "fi",
  "dobd",
  "dobm",
  "doby",
  "app_user_id",
] as const;

/**
 * Parameters Meta requires unhashed ("Do not hash" in its parameter reference). They identify a
 * browser, device, click or Meta-side account rather than a person's contact details.
 */
export const UNHASHED_FIELDS = [
  "client_ip_address",
  "client_user_agent",
  "fbc",
  "fbp",
  "subscription_id",
  "fb_login_id",
  "lead_id",
  "anon_id",
  "madid",
  "page_id",
  "page_scoped_user_id",
  "ctwa_clid",
  "ig_account_id",
  "ig_sid",
] as const;

export type MultiValueHashedField = (typeof MULTI_VALUE_HASHED_FIELDS)[number];
export type SingleValueHashedField = (typeof SINGLE_VALUE_HASHED_FIELDS)[number];
export type HashedField = MultiValueHashedField | SingleValueHashedField;
export type UnhashedField = (typeof UNHASHED_FIELDS)[number];
export type UserDataField = HashedField | UnhashedField;

export const HASHED_FIELDS: readonly HashedField[] = [
  ...MULTI_VALUE_HASHED_FIELDS,
  ...SINGLE_VALUE_HASHED_FIELDS,
];

export const USER_DATA_FIELDS: readonly UserDataField[] = [...HASHED_FIELDS, ...UNHASHED_FIELDS];

const MULTI = new Set<string>(MULTI_VALUE_HASHED_FIELDS);
const HASHED = new Set<string>(HASHED_FIELDS);

export function isMultiValueHashedField(field: string): field is MultiValueHashedField {
  return MULTI.has(field);
}

export function isHashedField(field: string): field is HashedField {
  return HASHED.has(field);
}
