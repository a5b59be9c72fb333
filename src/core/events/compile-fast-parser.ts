/** Builds, from a zod schema's own definition, a parser without `eval` for inputs zod surely accepts. */

import type { z } from "zod";
import {
  isValidIPv6,
  stripTabAndNewline,
  urlHostnameOk,
  urlProtocolOk,
  util,
  validateURL,
} from "zod/v4/core";

// Why: zod's interpreter costs ~45 µs per CAPI event in workerd, where `new Function` is refused
// and zod's JIT (and `z.compile`) cannot run. This walks the same definitions once, at module
// load, into plain closures, for the subset of zod the event schemas use, and follows zod's own
// ahead-of-time compiler (zod/v4/core/compile.js) node by node, calling the helpers it calls
// (validateURL, urlProtocolOk, isValidIPv6, codePointLength), so there is no second URL or IPv6
// implementation. No library offers an eval-free compiled zod parser.
//
// Contract: the parser returns exactly what `schema.safeParse(input).data` would (same values,
// same key order) or `UNSURE`. `UNSURE` means "ask zod": invalid input, and also anything this
// parser does not model (explicitly undefined keys, class instances, `__proto__` keys). zod stays
// the single source of truth for the schema and for every error message: callers run
// `schema.safeParse` whenever the fast parser is unsure. A node kind this file does not know is
// run by zod itself (an "island"), so a schema change can slow the fast path but never make it
// wrong; `islands` lists them so a test can insist there are none.

/** Returned when the fast parser cannot vouch for the input; run zod to get the verdict. */
export const UNSURE: unique symbol = Symbol("UNSURE");
export type Unsure = typeof UNSURE;

export interface FastParser<T> {
  parse: (input: unknown) => T | Unsure;
  /** Paths of sub-schemas the fast parser hands to zod's runtime (slow, still exact). */
  islands: readonly string[];
}

type Node = (value: unknown) => unknown;
type AnySchema = z.core.$ZodType;
// The fields of zod's internal definitions read here; zod's own types spread them over many
// interfaces, so they are read through this loose view.
interface Def {
  type: string;
  checks?: AnySchema[];
  format?: string;
  pattern?: RegExp;
  coerce?: boolean;
  normalize?: boolean;
  hostname?: RegExp;
  protocol?: RegExp;
  check?: string;
  when?: unknown;
  minimum?: number;
  maximum?: number;
  length?: number;
  value?: unknown;
  inclusive?: boolean;
  innerType?: AnySchema;
  element?: AnySchema;
  shape?: Record<string, AnySchema>;
  catchall?: AnySchema;
  options?: AnySchema[];
  discriminator?: string;
  values?: unknown[];
  keyType?: AnySchema;
  valueType?: AnySchema;
  partial?: boolean;
  mode?: string;
}

const defOf = (schema: AnySchema) => schema._zod.def as unknown as Def;

class Unsupported extends Error {}

export interface FastParserOptions {
  /**
   * Told of every URL the parser accepted: its output text and its query as `new URL(text).search`
   * gives it, so a caller that reads the query need not parse the URL again.
   */
  onUrl?: (text: string, search: string) => void;
}

interface Context extends FastParserOptions {
  islands: string[];
}

export function compileFastParser<S extends z.ZodType>(
  schema: S,
  options: FastParserOptions = {},
): FastParser<z.output<S>> {
  const ctx: Context = { ...options, islands: [] };
  const parse = compileNode(schema, "", ctx) as (input: unknown) => z.output<S> | Unsure;
  return { parse, islands: ctx.islands };
}

function compileNode(schema: AnySchema, path: string, ctx: Context): Node {
  try {
    return compileKnown(schema, path, ctx);
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    ctx.islands.push(`${path || "(root)"}: ${err.message}`);
    const run = schema as unknown as z.ZodType;
    return (value) => {
      const result = run.safeParse(value);
      return result.success ? result.data : UNSURE;
    };
  }
}

function compileKnown(schema: AnySchema, path: string, ctx: Context): Node {
  const def = defOf(schema);
  if (def.coerce) throw new Unsupported("coercion");
  const typeNode = compileType(schema, def, path, ctx);
  // zod runs the schema itself first when it is a check (string formats, z.int()), then def.checks.
  const checks = [
    ...(schema._zod.traits.has("$ZodCheck") ? [schema] : []),
    ...(def.checks ?? []),
  ].map((check) => compileCheck(check, ctx));
  if (checks.length === 0) return typeNode;
  return (value) => {
    let out = typeNode(value);
    for (const check of checks) {
      if (out === UNSURE) return UNSURE;
      out = check(out);
    }
    return out;
  };
}

function compileType(schema: AnySchema, def: Def, path: string, ctx: Context): Node {
  switch (def.type) {
    case "string":
      return (v) => (typeof v === "string" ? v : UNSURE);
    case "number":
      // z.number() refuses NaN and ±Infinity.
      return (v) => (typeof v === "number" && Number.isFinite(v) ? v : UNSURE);
    case "boolean":
      return (v) => (typeof v === "boolean" ? v : UNSURE);
    case "unknown":
    case "any":
      return (v) => v;
    case "literal": {
      const values = new Set(def.values);
      return (v) => (values.has(v) ? v : UNSURE);
    }
    case "enum": {
      const values = (schema._zod as { values?: Set<unknown> }).values;
      if (!values) throw new Unsupported("enum without values");
      return (v) => (values.has(v) ? v : UNSURE);
    }
    case "optional": {
      const inner = defOf(def.innerType as AnySchema);
      if ((def.innerType as AnySchema)._zod.optin === "defaulted" || inner.type === "default") {
        throw new Unsupported("optional default");
      }
      const node = compileNode(def.innerType as AnySchema, path, ctx);
      return (v) => (v === undefined ? undefined : node(v));
    }
    case "array": {
      const element = compileNode(def.element as AnySchema, `${path}[]`, ctx);
      return (v) => {
        if (!Array.isArray(v)) return UNSURE;
        const out = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const item = element(v[i]);
          if (item === UNSURE) return UNSURE;
          out[i] = item;
        }
        return out;
      };
    }
    case "union":
      return compileUnion(def, path, ctx);
    case "object":
      return compileObject(def, path, ctx);
    case "record":
      return compileRecord(def, path, ctx);
    default:
      throw new Unsupported(`schema type ${def.type}`);
  }
}

/**
 * zod answers with the first option that accepts the value. The fast union does the same when no
 * option can be "unsure" about a value zod accepts (leaf options are exact), or when the options
 * accept disjoint JavaScript types; otherwise an unsure option could hand the value on to a later
 * option zod would never have tried.
 */
function compileUnion(def: Def, path: string, ctx: Context): Node {
  const options = def.options ?? [];
  if (def.discriminator !== undefined) throw new Unsupported("discriminated union");
  if ((def as { inclusive?: boolean }).inclusive === false) throw new Unsupported("z.xor");
  if (!options.every(isExact)) {
    const seen = new Set<string>();
    for (const option of options) {
      for (const kind of acceptedKinds(option)) {
        if (kind === "*" || seen.has(kind)) throw new Unsupported("union of overlapping types");
        seen.add(kind);
      }
    }
  }
  const nodes = options.map((option, i) => compileNode(option, `${path}|${i}`, ctx));
  return (v) => {
    for (const node of nodes) {
      const out = node(v);
      if (out !== UNSURE) return out;
    }
    return UNSURE;
  };
}

/**
 * Whether the compiled node is unsure only where zod refuses: leaves and lists of leaves. Objects
 * are not (they leave explicit `undefined` values and unusual objects to zod).
 */
function isExact(schema: AnySchema): boolean {
  const def = defOf(schema);
  switch (def.type) {
    case "string":
    case "number":
    case "boolean":
    case "literal":
    case "enum":
    case "unknown":
    case "any":
      return true;
    case "optional":
      return isExact(def.innerType as AnySchema);
    case "array":
      return isExact(def.element as AnySchema);
    case "union":
      return (def.options ?? []).every(isExact);
    default:
      return false;
  }
}

/** The `typeof`-like kinds of value a schema can accept; "*" when it cannot be told. */
function acceptedKinds(schema: AnySchema): string[] {
  const def = defOf(schema);
  const kindOf = (v: unknown) => (v === null ? "null" : typeof v);
  switch (def.type) {
    case "string":
    case "number":
    case "boolean":
      return [def.type];
    case "literal":
      return (def.values ?? []).map(kindOf);
    case "enum":
      return [...((schema._zod as { values?: Set<unknown> }).values ?? [])].map(kindOf);
    case "array":
      return ["array"];
    case "object":
    case "record":
      return ["object"];
    case "optional":
      return ["undefined", ...acceptedKinds(def.innerType as AnySchema)];
    default:
      return ["*"];
  }
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function compileObject(def: Def, path: string, ctx: Context): Node {
  const shape = def.shape ?? {};
  const keys = Object.keys(shape);
  if (Object.getOwnPropertySymbols(shape).length > 0) throw new Unsupported("symbol keys");
  if (keys.includes("__proto__")) throw new Unsupported('"__proto__" key');
  const known = new Set(keys);
  const props = keys.map((key) => {
    const schema = shape[key] as AnySchema;
    const { optin, optout } = schema._zod;
    if (optin !== undefined && !(optin === "optional" && optout === "optional")) {
      throw new Unsupported(`defaulted key ${key}`);
    }
    return {
      key,
      optional: optin === "optional",
      node: compileNode(schema, `${path}.${key}`, ctx),
    };
  });

  let unknownKeys: "strip" | "strict" | "passthrough" = "strip";
  if (def.catchall) {
    const catchall = defOf(def.catchall);
    if (catchall.type === "never") unknownKeys = "strict";
    else if ((catchall.type === "unknown" || catchall.type === "any") && !catchall.checks?.length) {
      unknownKeys = "passthrough";
    } else throw new Unsupported("object catchall schema");
  }

  return (v) => {
    // Plain objects only (what JSON.parse makes); zod also reads class instances and getters.
    if (!isPlainRecord(v) || Array.isArray(v)) return UNSURE;
    const out: Record<string, unknown> = {};
    for (const { key, optional, node } of props) {
      const value = v[key];
      if (value === undefined) {
        // An explicit `key: undefined` is left to zod; an absent optional key is simply omitted.
        if (!optional || key in v) return UNSURE;
        continue;
      }
      const parsed = node(value);
      if (parsed === UNSURE) return UNSURE;
      out[key] = parsed;
    }
    if (unknownKeys === "strict") {
      for (const key in v) if (!known.has(key)) return UNSURE;
    } else if (unknownKeys === "passthrough") {
      // After the shape's keys, in input order, as zod does (which also skips "__proto__").
      for (const key in v) {
        if (key === "__proto__") return UNSURE;
        if (!known.has(key)) out[key] = v[key];
      }
    }
    return out;
  };
}

function compileRecord(def: Def, path: string, ctx: Context): Node {
  const keyDef = defOf(def.keyType as AnySchema);
  const bareStringKeys =
    keyDef.type === "string" &&
    keyDef.format === undefined &&
    !keyDef.coerce &&
    (keyDef.checks?.length ?? 0) === 0 &&
    !(def.keyType as AnySchema)._zod.traits.has("$ZodCheck");
  if (!bareStringKeys || def.partial || def.mode === "loose") {
    throw new Unsupported("record with a key schema other than z.string()");
  }
  const valueNode = compileNode(def.valueType as AnySchema, `${path}{}`, ctx);
  return (v) => {
    if (!util.isPlainObject(v) || !isPlainRecord(v)) return UNSURE;
    if (Object.getOwnPropertySymbols(v).length > 0) return UNSURE;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      if (key === "__proto__") return UNSURE;
      const parsed = valueNode(v[key]);
      if (parsed === UNSURE) return UNSURE;
      out[key] = parsed;
    }
    return out;
  };
}

/**
 * An http(s) URL in the plainest form: a host of ASCII letters, digits, `.`, `-` and `_` and an
 * optional port (the authority), a path without `%`, `\` or segments that start with `.`, a query
 * of characters the URL parser leaves as they are, any visible ASCII in the fragment.
 */
const PLAIN_HTTP_URL =
  /^https?:\/\/[\w.-]+(?::\d{1,5})?(?:\/(?!\.)[\w\-.~!$&()*+,;=:@]*)*(?:\?[\w\-.~!$&()*+,;=:@/?%]*)?(?:#[!-~]*)?$/i;

/** Whether `scheme://host[:port]` parses, by its text: a memo of a pure answer, kept small. */
const authorityVerdicts = new Map<string, boolean>();
const MAX_AUTHORITY_VERDICTS = 1024;

/**
 * For a URL in PLAIN_HTTP_URL's form whose authority the URL parser accepts: what
 * `new URL(url).search` is; else undefined (then the URL parser decides). Why it is exact: a
 * special URL can only fail to parse in its scheme, host or port, which are all in the
 * authority, and the host ends where the path, query or fragment begins, so the whole URL
 * parses exactly when its authority alone does (asked of the URL parser itself, once per
 * authority). Nothing after the authority changes the scheme; no dot segments or `\` means no
 * path rewriting; the query's characters are outside the special-query percent-encode set, so
 * `search` is the query as written (`""` when it is empty or missing, as the URL API says).
 */
function plainHttpUrlSearch(url: string): string | undefined {
  if (!PLAIN_HTTP_URL.test(url)) return undefined;
  // The authority ends at the first "/", "?" or "#" after "://" (none occurs in it).
  let end = url.indexOf("//") + 2;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
    end += 1;
  }
  const authority = url.slice(0, end);
  let parses = authorityVerdicts.get(authority);
  if (parses === undefined) {
    if (authorityVerdicts.size >= MAX_AUTHORITY_VERDICTS) authorityVerdicts.clear();
    parses = URL.canParse(authority);
    authorityVerdicts.set(authority, parses);
  }
  if (!parses) return undefined;
  // The query runs from the first "?" to the fragment's "#" (a "?" in the fragment is not one).
  const hash = url.indexOf("#", end);
  const question = url.indexOf("?", end);
  if (question < 0 || (hash >= 0 && question > hash)) return "";
  const queryEnd = hash < 0 ? url.length : hash;
  return queryEnd - question > 1 ? url.slice(question, queryEnd) : "";
}

/** Patterns that are the whole check for these formats (as in zod's compiler). */
const PATTERN_FORMATS = new Set(["regex", "ipv4", "datetime", "date", "time", "uuid", "guid"]);
/** Length checks get a `when` from zod itself; any other `when` is a custom condition. */
const LENGTH_CHECKS = new Set(["min_length", "max_length", "length_equals"]);

type Check = (value: unknown) => unknown;

function compileCheck(check: AnySchema, ctx: Context): Check {
  const def = defOf(check);
  if (def.when && !LENGTH_CHECKS.has(def.check ?? "")) throw new Unsupported("check with when");
  switch (def.check) {
    case "min_length": {
      const min = def.minimum as number;
      return (v) => (lengthOf(v, (v as Sized).length < min * 2) >= min ? v : UNSURE);
    }
    case "max_length": {
      const max = def.maximum as number;
      return (v) => (lengthOf(v, (v as Sized).length > max) <= max ? v : UNSURE);
    }
    case "length_equals": {
      const exact = def.length as number;
      return (v) => (lengthOf(v, true) === exact ? v : UNSURE);
    }
    case "greater_than": {
      const bound = def.value as number;
      if (typeof bound !== "number" || Number.isNaN(bound)) throw new Unsupported("bound");
      return def.inclusive
        ? (v) => ((v as number) >= bound ? v : UNSURE)
        : (v) => ((v as number) > bound ? v : UNSURE);
    }
    case "less_than": {
      const bound = def.value as number;
      if (typeof bound !== "number" || Number.isNaN(bound)) throw new Unsupported("bound");
      return def.inclusive
        ? (v) => ((v as number) <= bound ? v : UNSURE)
        : (v) => ((v as number) < bound ? v : UNSURE);
    }
    case "number_format":
      if (def.format === "safeint") return (v) => (Number.isSafeInteger(v) ? v : UNSURE);
      if (def.format === "float64") return (v) => (Number.isFinite(v) ? v : UNSURE);
      throw new Unsupported(`number format ${def.format}`);
    case "string_format":
      return compileStringFormat(def, ctx);
    default:
      throw new Unsupported(`check ${def.check}`);
  }
}

type Sized = { length: number };

/** zod counts string lengths in code points (only computed when the UTF-16 length is in doubt). */
function lengthOf(v: unknown, inDoubt: boolean): number {
  return typeof v === "string" && inDoubt ? util.codePointLength(v) : (v as Sized).length;
}

function compileStringFormat(def: Def, ctx: Context): Check {
  const format = def.format;
  if (format === "url" || def.normalize || def.hostname || def.protocol) {
    // Exactly the steps of zod's $ZodURL check; its output is the trimmed value without tabs
    // and newlines (or the normalised href).
    const urlDef = def as Parameters<typeof validateURL>[1];
    // z.url({ protocol: /^https?$/ }) (the event schemas' URLs): plain URLs skip the URL parser.
    const plainHttp = !def.normalize && !def.hostname && def.protocol?.source === "^https?$";
    return (v) => {
      const trimmed = (v as string).trim();
      if (plainHttp) {
        const search = plainHttpUrlSearch(trimmed);
        if (search !== undefined) {
          ctx.onUrl?.(trimmed, search);
          return trimmed;
        }
      }
      const url = validateURL(trimmed, urlDef);
      if (typeof url === "number") return UNSURE;
      if (url === true) return stripTabAndNewline(trimmed);
      if (def.hostname && !urlHostnameOk(url, def.hostname)) return UNSURE;
      if (def.protocol && !urlProtocolOk(url, def.protocol)) return UNSURE;
      const out = def.normalize ? url.href : stripTabAndNewline(trimmed);
      // The URL parser drops tabs and newlines itself, so `url` is also the parse of `out`.
      ctx.onUrl?.(out, url.search);
      return out;
    };
  }
  if (format === "ipv6") return (v) => (isValidIPv6(v as string) ? v : UNSURE);
  if (format !== undefined && PATTERN_FORMATS.has(format) && def.pattern) {
    const pattern = def.pattern;
    return (v) => {
      pattern.lastIndex = 0;
      return pattern.test(v as string) ? v : UNSURE;
    };
  }
  throw new Unsupported(`string format ${format}`);
}
