/** Normalises one customer information value the way Meta's Business SDK does before hashing it. */

import { ISO_3166_ALPHA2_CODES } from "./iso-country-codes.ts";
import type { HashedField } from "./user-data-fields.ts";

// Hand-written mirror of `ServerSideUtils.normalizeAndHash` (facebook-nodejs-business-sdk 24.x,
// src/objects/serverside/utils.js) without the hashing step. The SDK cannot run in the core (it
// pulls in axios and CommonJS helpers), so its rules are reproduced here statement by statement and
// `normalize-user-data-value.test.ts` compares the result against the SDK itself on a broad table.
//
// The SDK's steps, in order:
//   1. trim, lower-case; an empty result yields nothing (the SDK returns null);
//   2. a value that already looks like SHA-256 (64 hex) or MD5 (32 hex) passes through unchanged;
//   3. a field-specific rule (below); fields without one (fn, ln, db, external_id, app_user_id)
//      keep the trimmed, lower-cased value.
// Where the SDK throws or returns null, Driftline reports the value as invalid instead of hashing
// it. Driftline is stricter than the SDK in three places where the SDK would hash something that
// cannot be what the sender meant (each is covered by a test that shows the SDK's output):
//   - `ct`/`st` that are empty after stripping digits and punctuation (SDK: hash of "");
//   - `dobd`/`dobm` that are not numbers (the SDK's range check lets NaN through);
//   - values that are not well-formed Unicode (lone UTF-16 surrogates, e.g. from a JSON "\ud800"
//     escape or from `f5first`/`fi` cutting an emoji in half): the SDK's js-sha256 and a standard
//     UTF-8 encoder disagree on them, so there is no "same hash" to produce.

const PHONE_NUMBER_IGNORE_CHAR_SET = /[-@#<>'",; ]|\(|\)|\+|[a-z]/g;
const PHONE_NUMBER_DROP_PREFIX_ZEROS = /^\+?0{0,2}/;
const US_PHONE_NUMBER_REGEX = /^1\(?\d{3}\)?\d{7}$/;
const INTL_PHONE_NUMBER_REGEX = /^\d{1,4}\(?\d{2,3}\)?\d{4,}$/;
const SHA256_REGEX = /^[a-f0-9]{64}$/;
const MD5_REGEX = /^[a-f0-9]{32}$/;
const CITY_STATE_STRIP = /[0-9\s().-]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// email-validator 2.0.4 (MIT, Manish Saraan), which the SDK uses to accept or refuse `em`; its
// groups made non-capturing (the same matches, without recording a capture per character).
const EMAIL_REGEX =
  /^[-!#$%&'*+/0-9=?A-Z^_a-z{|}~](?:\.?[-!#$%&'*+/0-9=?A-Z^_a-z`{|}~])*@[a-zA-Z0-9](?:-*\.?[a-zA-Z0-9])*\.[a-zA-Z](?:-?[a-zA-Z0-9])+$/;

/** What became of one input value. */
export type NormalizedUserDataValue =
  /** Normalised plain text, still to be hashed with SHA-256. */
  | { kind: "normalized"; value: string }
  /** Already a SHA-256 or MD5 hex digest (lower-cased); sent as is. */
  | { kind: "prehashed"; value: string }
  /** Blank after trimming: treated as absent, as the SDK does. */
  | { kind: "empty" }
  /** Refused; `message` says what to fix and never repeats the value. */
  | { kind: "invalid"; message: string };

export function normalizeUserDataValue(field: HashedField, input: string): NormalizedUserDataValue {
  let value = input.trim().toLowerCase();
  if (value.length === 0) return { kind: "empty" };
  if (SHA256_REGEX.test(value) || MD5_REGEX.test(value)) return { kind: "prehashed", value };

  switch (field) {
    case "country":
      // The SDK looks the lower-cased value up with `whereAlpha2`, which upper-cases it again.
      if (!ISO_3166_ALPHA2_CODES.has(value.toUpperCase())) {
        return invalid("must be an ISO 3166-1 alpha-2 country code, e.g. US or de");
      }
      break;
    case "ct":
    case "st":
      value = value.replace(CITY_STATE_STRIP, "");
      if (value.length === 0) {
        return invalid(
          field === "ct"
            ? "city has no letters left after removing digits, spaces and punctuation"
            : "state has no letters left after removing digits, spaces and punctuation; use a code such as ca",
        );
      }
      break;
    case "em":
      if (!isValidEmail(value)) return invalid("is not a valid email address");
      break;
    case "ge": {
      const gender = value.replace(/[^a-z]/g, "");
      if (gender === "female" || gender === "f") value = "f";
      else if (gender === "male" || gender === "m") value = "m";
      else return invalid("gender must be f, m, female or male");
      break;
    }
    case "ph": {
      const normalized = normalizePhone(value);
      if (normalized === null) {
        return invalid(
          "phone number must have 7 to 16 digits after removing symbols and letters; include the country code, e.g. +1 650 555 1212",
        );
      }
      value = normalized;
      break;
    }
    case "zp":
      value = value.replace(/\s/g, "").split("-", 1)[0] ?? "";
      if (value.length < 2) return invalid("postal code must have at least 2 characters");
      break;
    case "f5first":
    case "f5last":
      value = value.length <= 5 ? value : value.substring(0, 5);
      break;
    case "fi":
      value = value.charAt(0);
      break;
    case "dobd":
      value = value.length === 1 ? `0${value}` : value;
      if (!inIntRange(value, 1, 31)) return invalid("day of birth must be DD, 01 to 31");
      break;
    case "dobm":
      value = value.length === 1 ? `0${value}` : value;
      if (!inIntRange(value, 1, 12)) return invalid("month of birth must be MM, 01 to 12");
      break;
    case "doby":
      if (!/^[0-9]{4}$/.test(value)) return invalid("year of birth must be YYYY, e.g. 1990");
      break;
    default:
      // fn, ln, db, external_id, app_user_id: trimmed and lower-cased only, as in the SDK.
      break;
  }

  if (LONE_SURROGATE.test(value)) {
    return invalid("contains characters that are not valid Unicode (a lone UTF-16 surrogate)");
  }
  return { kind: "normalized", value };
}

/** email-validator's `validate`, applied (like the SDK) to the trimmed, lower-cased value. */
export function isValidEmail(email: string): boolean {
  if (email.length === 0 || email.length > 254) return false;
  if (!EMAIL_REGEX.test(email)) return false;
  // The pattern admits exactly one "@": email-validator's split("@") checks, by index.
  const at = email.indexOf("@");
  if (at > 64) return false;
  let label = at + 1;
  for (let i = label; i <= email.length; i++) {
    if (i === email.length || email.charCodeAt(i) === 0x2e) {
      if (i - label > 63) return false;
      label = i + 1;
    }
  }
  return true;
}

/** The SDK's `normalizePhone`; null where it would throw. Input is already lower-cased. */
function normalizePhone(lowerCased: string): string | null {
  let phone = lowerCased.replace(PHONE_NUMBER_IGNORE_CHAR_SET, "");
  if (isInternationalPhoneNumber(phone)) phone = phone.replace(PHONE_NUMBER_DROP_PREFIX_ZEROS, "");
  if (phone.length < 7 || phone.length > 16) return null;
  return phone;
}

function isInternationalPhoneNumber(phone: string): boolean {
  const stripped = phone.replace(PHONE_NUMBER_DROP_PREFIX_ZEROS, "");
  if (stripped.startsWith("0")) return false;
  if (stripped.startsWith("1")) return US_PHONE_NUMBER_REGEX.test(stripped);
  return INTL_PHONE_NUMBER_REGEX.test(stripped);
}

/** The SDK's `parseInt` range check, except that a non-number fails instead of slipping through. */
function inIntRange(value: string, min: number, max: number): boolean {
  // No radix, as in the SDK: "0x1" parses as 1 there too.
  // biome-ignore lint/correctness/useParseIntRadix: must parse exactly as the SDK's parseInt(x)
  const n = Number.parseInt(value);
  return !Number.isNaN(n) && n >= min && n <= max;
}

function invalid(message: string): NormalizedUserDataValue {
  return { kind: "invalid", message };
}
