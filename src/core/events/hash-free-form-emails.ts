/** Email addresses found in free-form places of an event, hashed the way `em` is. */
import { isValidEmail } from "./normalize-user-data-value.ts";
import { sha256Hex } from "./sha256-hex.ts";

// Why: custom properties in custom_data, utm values and the URLs an event names are forwarded as
// sent, and senders do put customers' email addresses there (`?email=` on a thank-you page, a
// `customer_email` custom property, a note "call back jane@example.com"). Raw personal data must
// not leave the Worker, and an email is the one kind that can be recognised exactly: text that
// email-validator accepts after lower-casing. A whole value that is one is replaced by SHA-256 of
// its normal form (trimmed, lower-cased), the hash `em` gets, so it can still be joined on; an
// address inside longer text is replaced in place by the hash of its lower-cased form. Other
// personal data (names, phone numbers, street addresses) cannot be told from ids, prices and
// order numbers; Meta forbids it there, and it is forwarded as sent (docs/privacy.md).

/** `value` itself, the hash of its normal form when it is an email address, or `value` with each address inside it hashed. */
export function hashIfEmail(value: string): string {
  // No "@": not an email (the common case, one scan).
  if (!value.includes("@")) return value;
  const normal = value.trim().toLowerCase();
  return isValidEmail(normal) ? sha256Hex(normal) : hashEmbeddedEmails(value);
}

/** Characters of an address's local part (RFC 5322 atext and "."), as email-validator admits. */
const LOCAL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/;
/** Characters of a domain. */
const DOMAIN = /[A-Za-z0-9.-]/;

/**
 * `text` with every email address inside it replaced by the SHA-256 of its lower-cased form.
 * Written by hand because it must stay linear on hostile text (a regular expression over the
 * whole text backtracks from every start position): each "@" is widened left over local-part
 * characters (at most 64, the longest local part) and right over domain characters (at most 253),
 * and the candidate is accepted only if email-validator's rule (isValidEmail) accepts it.
 */
export function hashEmbeddedEmails(text: string): string {
  let out = "";
  let copied = 0;
  let at = text.indexOf("@");
  while (at !== -1) {
    let start = at;
    while (start > copied && at - start < 64 && LOCAL.test(text[start - 1] as string)) start -= 1;
    while (start < at && text[start] === ".") start += 1;
    let end = at + 1;
    while (end < text.length && end - at <= 253 && DOMAIN.test(text[end] as string)) end += 1;
    while (end > at + 1 && (text[end - 1] === "." || text[end - 1] === "-")) end -= 1;
    const candidate = text.slice(start, end).toLowerCase();
    if (start < at && end > at + 1 && isValidEmail(candidate)) {
      out += text.slice(copied, start) + sha256Hex(candidate);
      copied = end;
      at = text.indexOf("@", end);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * A JSON value with every string that is an email address hashed, at any depth. Returns the
 * value itself when nothing changed (no copy on the hot path), else copies along the changed path.
 */
export function hashEmailsInValue<T>(value: T): T {
  if (typeof value === "string") return hashIfEmail(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const next = hashEmailsInValue(item);
      if (next !== item) {
        out ??= [...value];
        out[i] = next;
      }
    });
    return (out ?? value) as T;
  }
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const next = hashEmailsInValue(item);
    if (next !== item) {
      out ??= { ...(value as Record<string, unknown>) };
      out[key] = next;
    }
  }
  return (out ?? value) as T;
}

/**
 * `url` with email addresses in its path segments and query values hashed; the text itself when
 * it holds none (then it is returned unchanged, byte for byte). Only a URL that holds one is
 * rebuilt, so its query is then re-serialised by URLSearchParams.
 */
export function hashEmailsInUrl(url: string): string {
  // An address is written with "@" or, percent-encoded, "%40".
  if (!url.includes("@") && !url.includes("%40")) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  let changed = false;
  const segments = parsed.pathname.split("/").map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return segment;
    }
    const hashed = hashIfEmail(decoded);
    if (hashed === decoded) return segment;
    changed = true;
    return hashed;
  });
  if (changed) parsed.pathname = segments.join("/");
  const pairs = [...parsed.searchParams];
  let queryChanged = false;
  for (const pair of pairs) {
    const hashed = hashIfEmail(pair[1]);
    if (hashed !== pair[1]) {
      pair[1] = hashed;
      queryChanged = true;
    }
  }
  if (queryChanged) parsed.search = new URLSearchParams(pairs).toString();
  // User info (credentials, or an address) is never needed and may be personal: dropped.
  if (parsed.username !== "" || parsed.password !== "") {
    parsed.username = "";
    parsed.password = "";
    changed = true;
  }
  return changed || queryChanged ? parsed.href : url;
}
