/** The wording of dead-letter reasons, shared by the record decoders. */
import type { z } from "zod";

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
