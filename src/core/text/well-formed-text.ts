/** Text Postgres `text` and `jsonb` can hold: well-formed Unicode (no lone UTF-16 surrogate) without U+0000. */
import { z } from "zod";

// Why: JSON.parse turns an escape such as "\ud800" into a lone surrogate, which is not a Unicode
// character. JSON.stringify escapes it again, and Postgres refuses it (jsonb: 22P02; text cannot
// encode it as UTF-8), and it refuses U+0000 in text and jsonb alike. One such string in a batch
// statement makes the database refuse the whole statement, so every entry point refuses them,
// naming where they are and never repeating the text (a log or an error body must not carry it).

export type TextProblem = "lone-surrogate" | "nul" | "too-deep";

/**
 * Deepest nesting the checks walk. Deeper values are refused as a problem of their own: walking
 * them (here, in JSON.stringify or in Postgres) would exhaust a stack, and no Driftline message
 * nests anywhere near this.
 */
export const MAX_STORABLE_DEPTH = 256;

/** What is wrong with `text`, or undefined when Postgres can store it. */
export function textProblem(text: string): TextProblem | undefined {
  if (!text.isWellFormed()) return "lone-surrogate";
  if (text.includes("\u0000")) return "nul";
  return undefined;
}

export function isStorableText(text: string): boolean {
  return textProblem(text) === undefined;
}

/** What is wrong and how to fix it, for a message that follows the field's name. */
export const TEXT_PROBLEM_MESSAGES: Readonly<Record<TextProblem, string>> = {
  "lone-surrogate":
    "holds a lone UTF-16 surrogate (a \\uD800–\\uDFFF escape without its pair), which is not well-formed Unicode; send whole characters (UTF-8, or both escapes of a surrogate pair)",
  nul: "holds U+0000 (the NUL character), which cannot be stored; remove it",
  "too-deep": `nests arrays and objects more than ${MAX_STORABLE_DEPTH} levels deep; flatten it`,
};

/** A `\u` escape JSON.parse turns into U+0000 or into half of a surrogate pair. */
const RISKY_JSON_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * False when every string JSON.parse makes of `jsonText` (keys and values) is surely storable:
 * JSON text can only produce U+0000 or a lone surrogate through a `\u0000` or `\uD800`–`\uDFFF`
 * escape (unescaped control characters are a syntax error), or by holding a lone surrogate
 * itself. One native scan of the body spares walking every parsed value (`findTextIssues`); true
 * (rarely: escaped emoji, escaped NUL) only means the parsed value has to be checked.
 */
export function jsonMayHoldUnstorableText(jsonText: string): boolean {
  return RISKY_JSON_ESCAPE.test(jsonText) || !jsonText.isWellFormed();
}

export interface TextIssue {
  /** Where the string is. For a bad key, the object holding it (the key is not repeated). */
  path: (string | number)[];
  problem: TextProblem;
  /** The problem is in one of the object's keys, not in a value. */
  inKey: boolean;
}

/** `path: message` wording of an issue; the key itself is never named (it is the bad text). */
export function textIssueMessage(issue: Pick<TextIssue, "problem" | "inKey">): string {
  const message = TEXT_PROBLEM_MESSAGES[issue.problem];
  return issue.inKey ? `has a key that ${message}` : message;
}

/**
 * The strings (values and object keys) in a JSON value that Postgres cannot store, depth first,
 * at most `max` of them. Values under a bad key are not searched: the key already fails them.
 */
export function findTextIssues(
  value: unknown,
  max = 1,
  path: (string | number)[] = [],
): TextIssue[] {
  const issues: TextIssue[] = [];
  collect(value, path, issues, max);
  return issues;
}

function collect(
  value: unknown,
  path: (string | number)[],
  out: TextIssue[],
  max: number,
  depth = 0,
): void {
  if (typeof value === "string") {
    const problem = textProblem(value);
    if (problem !== undefined) out.push({ path: [...path], problem, inKey: false });
    return;
  }
  if (typeof value !== "object" || value === null) return;
  if (depth >= MAX_STORABLE_DEPTH) {
    out.push({ path: [...path], problem: "too-deep", inKey: false });
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && out.length < max; i++) {
      path.push(i);
      collect(value[i], path, out, max, depth + 1);
      path.pop();
    }
    return;
  }
  for (const key of Object.keys(value)) {
    if (out.length >= max) return;
    const problem = textProblem(key);
    if (problem !== undefined) {
      out.push({ path: [...path], problem, inKey: true });
      continue;
    }
    path.push(key);
    collect((value as Record<string, unknown>)[key], path, out, max, depth + 1);
    path.pop();
  }
}

/** Issues one zod answer lists at most: a batch of bad rows would otherwise answer megabytes. */
const MAX_ZOD_ISSUES = 20;

/**
 * zod refinement for any JSON value (a record of unknown values, a whole manifest): one issue per
 * bad string, at its path, e.g. `z.record(z.string(), z.unknown()).superRefine(refineStorableJson)`.
 */
export function refineStorableJson(value: unknown, ctx: z.RefinementCtx): void {
  for (const issue of findTextIssues(value, MAX_ZOD_ISSUES)) {
    ctx.addIssue({ code: "custom", path: issue.path, message: textIssueMessage(issue) });
  }
}

/** A string field Postgres can store: `storableString.min(1).max(256)`. */
export const storableString = z.string().superRefine((text, ctx) => {
  const problem = textProblem(text);
  if (problem !== undefined) {
    ctx.addIssue({ code: "custom", message: TEXT_PROBLEM_MESSAGES[problem] });
  }
});
