/** Reads the utm_* parameters and click ids of an event's URL, as Meta's Business SDK would see them. */

import type { FieldIssue } from "../errors.ts";
import { TEXT_PROBLEM_MESSAGES, textProblem } from "../text/index.ts";
import {
  CLICK_ID_PARAMS,
  type ClickIdParam,
  UTM_PARAMS,
  type UtmParam,
} from "./event-message-schema.ts";
import { flatString } from "./flat-string.ts";
import { hashIfEmail } from "./hash-free-form-emails.ts";
import { stripUrlQuery, type UrlQueryAllowlist } from "./url-query-allowlist.ts";
import { fieldAt } from "./zod-issues.ts";

// The queries (`URL.search`) of the URLs the fast parser accepted for the event being read, by
// their text: read without parsing the URL again. Filled and read synchronously, one event at a time.
const parsedUrls = new Map<string, string>();

/** Remembers the query of a URL the fast parser has just parsed (its `onUrl` hook). */
export function rememberParsedUrl(text: string, search: string): void {
  parsedUrls.set(text, search);
}

/** Forgets the previous event's URLs; called before an event is parsed. */
export function forgetParsedUrls(): void {
  parsedUrls.clear();
}

/**
 * `url` with only the allowed query parameters and no fragment (see stripUrlQuery). When the
 * fast parser had parsed `url`, the stripped URL's query is remembered as well: the URL parser
 * only percent-encodes characters inside pairs, never "&" or "=", so its query with the same
 * pairs dropped is what it would make of the stripped URL, and reading that URL's parameters
 * needs no second parse.
 */
export function stripEventUrl(url: string, allowlist: UrlQueryAllowlist): string {
  const stripped = stripUrlQuery(url, allowlist);
  if (stripped !== url) {
    const search = parsedUrls.get(url);
    if (search !== undefined) parsedUrls.set(stripped, stripUrlQuery(search, allowlist));
  }
  return stripped;
}

/** The query parameter of each utm field. */
const UTM_QUERY_NAMES = Object.fromEntries(UTM_PARAMS.map((p) => [p, `utm_${p}`])) as Record<
  UtmParam,
  string
>;

/** The query parameters Driftline reads (utm_* and click ids); only their first values matter. */
const QUERY_NAMES = new Set<string>([...UTM_PARAMS.map((p) => `utm_${p}`), ...CLICK_ID_PARAMS]);

/**
 * The first value of each parameter in `QUERY_NAMES`, as `URLSearchParams.get` would return it,
 * from one pass over the query (one `get` per name cost a dozen trips into the URL parser).
 */
export function queryParams(url: string | undefined): Map<string, string> | undefined {
  // Without a "?" there is no query to parse.
  if (url === undefined || !url.includes("?")) return undefined;
  let search = parsedUrls.get(url);
  if (search === undefined) {
    try {
      search = new URL(url).search;
    } catch {
      return undefined;
    }
  }
  const first = new Map<string, string>();
  // The URL parser leaves the query ASCII (anything else percent-encoded). Without "%" and "+"
  // the form-urlencoded parser behind `searchParams` decodes nothing, so splitting the text at
  // "&" and the first "=" gives exactly its pairs, without building a URLSearchParams and an
  // array per pair (a twentieth of the CPU of a batch of website events).
  const query = search.slice(1);
  if (query.includes("%") || query.includes("+")) {
    // `search` with its "?", which URLSearchParams drops: the pairs of `url.searchParams`.
    for (const [name, value] of new URLSearchParams(search)) {
      if (QUERY_NAMES.has(name) && !first.has(name)) first.set(name, value);
    }
    return first;
  }
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (QUERY_NAMES.has(name) && !first.has(name))
      first.set(name, eq < 0 ? "" : pair.slice(eq + 1));
  }
  return first;
}

/** A query value worth keeping: present, non-blank, bounded; flat, as it goes into the message. */
function param(params: Map<string, string> | undefined, name: string): string | undefined {
  const value = params?.get(name)?.trim();
  return value && value.length <= 512 ? flatString(value) : undefined;
}

export function readUtm(
  params: Map<string, string> | undefined,
  explicit: Partial<Record<UtmParam, string | undefined>>,
): Partial<Record<UtmParam, string>> {
  const utm: Partial<Record<UtmParam, string>> = {};
  for (const key of UTM_PARAMS) {
    const value = explicit[key] ?? param(params, UTM_QUERY_NAMES[key]);
    if (value !== undefined) utm[key] = hashIfEmail(value);
  }
  return utm;
}

export function readClickIds(
  params: Map<string, string> | undefined,
  explicit: Partial<Record<ClickIdParam, string | undefined>>,
  fbc: string | undefined,
): Partial<Record<ClickIdParam, string>> {
  const ids: Partial<Record<ClickIdParam, string>> = {};
  for (const key of CLICK_ID_PARAMS) {
    const value = explicit[key] ?? param(params, key);
    if (value !== undefined) ids[key] = value;
  }
  // fbc = fb.<subdomain index>.<creation ms>.<fbclid>[.<appendix>]; fbclids contain no dots.
  if (ids.fbclid === undefined && fbc !== undefined) {
    const fbclid = fbc.split(".")[3];
    if (fbclid) ids.fbclid = flatString(fbclid);
  }
  return ids;
}

/**
 * The event's own text was checked whole, but percent-decoding its URL's query can still yield
 * U+0000 (`%00`) in a utm value or click id the message carries; invalid UTF-8 decodes to U+FFFD,
 * so never to a lone surrogate. Reported on the URL, naming the parameter.
 */
export function queryTextIssues(
  utm: Partial<Record<UtmParam, string>>,
  clickIds: Partial<Record<ClickIdParam, string>>,
  prefix: readonly PropertyKey[],
  errors: FieldIssue[],
): void {
  const check = (name: string, value: string | undefined) => {
    const problem = value === undefined ? undefined : textProblem(value);
    if (problem === undefined) return;
    errors.push({
      field: fieldAt(prefix, "event_source_url"),
      message: `has the query parameter ${name} that ${TEXT_PROBLEM_MESSAGES[problem]}`,
    });
  };
  for (const p of UTM_PARAMS) check(UTM_QUERY_NAMES[p], utm[p]);
  for (const p of CLICK_ID_PARAMS) check(p, clickIds[p]);
}
