/** Which query parameters of an event's URLs survive the edge: an allow-list of names and `prefix*` patterns. */

import { CLICK_ID_PARAMS } from "./event-message-schema.ts";

// Why: a page URL's query carries whatever the site put there — session ids, reset tokens, order
// numbers, search terms, names — and the URL is forwarded to Kafka and kept. Driftline reads only
// the campaign parameters and click ids from it, so only parameters a tenant's operator lists go
// on; everything else is dropped before the message is built. The fragment (`#…`, never sent to a
// server by a browser, often an OAuth access token in single-page apps) is dropped too.

/** Parameter names kept exactly, and prefixes (`utm_*`) every name starting with is kept for. */
export interface UrlQueryAllowlist {
  names: ReadonlySet<string>;
  prefixes: readonly string[];
}

/** The default list: every utm_* parameter and the click ids Driftline reads (fbclid, gclid, …). */
export const DEFAULT_URL_QUERY_ALLOWLIST_TEXT = ["utm_*", ...CLICK_ID_PARAMS].join(",");

/**
 * The allow-list a comma-separated text names: `name` keeps that parameter, `prefix*` every
 * parameter whose name starts with `prefix`. Blank items are ignored, so "" keeps none.
 */
export function parseUrlQueryAllowlist(text: string): UrlQueryAllowlist {
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    if (item.endsWith("*")) prefixes.push(item.slice(0, -1));
    else names.add(item);
  }
  return { names, prefixes };
}

/** Problems of an allow-list text, for the Worker's env schema (each says what to fix). */
export function urlQueryAllowlistProblems(text: string): string[] {
  const problems: string[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    if (item.indexOf("*") !== -1 && item.indexOf("*") !== item.length - 1) {
      problems.push(`"${item}": a * may only end an item (utm_*)`);
    } else if (item === "*") {
      problems.push('"*" would keep every parameter; list the ones Driftline should keep');
    } else if (/[\s&=#?]/.test(item)) {
      problems.push(`"${item}" is not a query parameter name`);
    }
  }
  return problems;
}

export const DEFAULT_URL_QUERY_ALLOWLIST: UrlQueryAllowlist = parseUrlQueryAllowlist(
  DEFAULT_URL_QUERY_ALLOWLIST_TEXT,
);

/** Whether the allow-list keeps the parameter `name` (decoded, as URLSearchParams reads it). */
export function allowsQueryParam(allowlist: UrlQueryAllowlist, name: string): boolean {
  if (allowlist.names.has(name)) return true;
  for (const p of allowlist.prefixes) if (name.startsWith(p)) return true;
  return false;
}

/**
 * `url` with only the query parameters the allow-list keeps, in their order and exactly as they
 * were written, and without a fragment; the text itself when there is nothing to drop. `url` is
 * an absolute http(s) URL the event schema accepted, so its first "?" starts the query unless a
 * "#" comes first (then the "?" is in the fragment).
 */
export function stripUrlQuery(url: string, allowlist: UrlQueryAllowlist): string {
  const hash = url.indexOf("#");
  const question = url.indexOf("?");
  const queryStart = question >= 0 && (hash < 0 || question < hash) ? question : -1;
  if (queryStart < 0) return hash < 0 ? url : url.slice(0, hash);
  const end = hash < 0 ? url.length : hash;
  const kept: string[] = [];
  let dropped = false;
  for (const pair of url.slice(queryStart + 1, end).split("&")) {
    if (pair === "") {
      dropped = true;
      continue;
    }
    const eq = pair.indexOf("=");
    const name = decodeQueryName(eq < 0 ? pair : pair.slice(0, eq));
    if (name !== undefined && allowsQueryParam(allowlist, name)) kept.push(pair);
    else dropped = true;
  }
  if (!dropped && hash < 0) return url;
  const base = url.slice(0, queryStart);
  return kept.length === 0 ? base : `${base}?${kept.join("&")}`;
}

/** A parameter name as application/x-www-form-urlencoded decodes it; undefined if malformed. */
function decodeQueryName(raw: string): string | undefined {
  if (!raw.includes("%") && !raw.includes("+")) return raw;
  try {
    return decodeURIComponent(raw.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}
