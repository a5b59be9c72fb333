/** The wording of dead-letter reasons, shared by the record decoders. */
import type { z } from "zod";
import { findTextIssues, type TextIssue, textIssueMessage, textProblem } from "#core/text";

/** Issues named in one reason; the rest are counted. */
const MAX_REASON_ISSUES = 5;

/** A schema refusal as `path: message; …` (at most five issues, then how many more). */
export function describeIssues(error: z.ZodError): string {
  const parts = error.issues
    .slice(0, MAX_REASON_ISSUES)
    .map((i) => `${i.path.length === 0 ? "(root)" : i.path.map(String).join(".")}: ${i.message}`);
  const more = error.issues.length - MAX_REASON_ISSUES;
  return parts.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/** At most `max` characters of `s`, marked when cut (e.g. a parser's error message). */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/**
 * Why a decoded JSON value cannot be stored, or undefined: the first string in it (value or key)
 * that Postgres text and jsonb cannot hold (a lone UTF-16 surrogate, U+0000), named by its path.
 * `text` is the JSON the value was parsed from. Such strings can only come from a `\u` escape
 * (decoding UTF-8 replaces invalid bytes, and JSON refuses raw control characters), so a text
 * without one is not searched: the common case costs one scan of the text. `skipKeys` names
 * top-level fields that are never stored.
 */
export function unstorableTextReason(
  text: string,
  json: unknown,
  skipKeys: ReadonlySet<string> = NO_KEYS,
): string | undefined {
  if (!text.includes("\\u")) return undefined;
  const issue =
    skipKeys.size > 0 && typeof json === "object" && json !== null && !Array.isArray(json)
      ? firstIssueOutside(json as Record<string, unknown>, skipKeys)
      : findTextIssues(json)[0];
  if (issue === undefined) return undefined;
  const where = issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".");
  return `${where}: ${textIssueMessage(issue)}`;
}

const NO_KEYS: ReadonlySet<string> = new Set();

function firstIssueOutside(
  json: Record<string, unknown>,
  skipKeys: ReadonlySet<string>,
): TextIssue | undefined {
  for (const key of Object.keys(json)) {
    if (skipKeys.has(key)) continue;
    const problem = textProblem(key);
    if (problem !== undefined) return { path: [], problem, inKey: true };
    const issue = findTextIssues(json[key], 1, [key])[0];
    if (issue !== undefined) return issue;
  }
  return undefined;
}
