/** Turns zod issues into Driftline's field issues (`{ field: "data.3.user_data.em", message }`). */

import type { z } from "zod";
import type { FieldIssue } from "../errors.ts";

/** A zod error option that says "is required" for a missing value and `message` otherwise. */
export function requiredOr(message: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : message);
}

/**
 * Contextual error map for `safeParse`: a missing value reads "is required" and a non-object where
 * an object belongs "must be a JSON object", instead of zod's "expected …, received …".
 */
export function missingIsRequired(issue: {
  input?: unknown;
  code?: string;
  expected?: unknown;
}): string | undefined {
  if (issue.input === undefined) return "is required";
  if (issue.code === "invalid_type" && issue.expected === "object") return "must be a JSON object";
  return undefined;
}

export function joinPath(parts: readonly PropertyKey[]): string {
  return parts.map(String).join(".");
}

/**
 * The `field` of an issue at `path` inside the event at `prefix` (`data.3.user_data.em`). A
 * function rather than a closure per event: events are many, issues few.
 */
export function fieldAt(prefix: readonly PropertyKey[], ...path: PropertyKey[]): string {
  return joinPath([...prefix, ...path]);
}

/**
 * One field issue per zod issue, paths prefixed (`["data", 3]`); an unknown key becomes an issue
 * on that key. Messages come from the schemas and never contain the offending value.
 */
export function toFieldIssues(error: z.ZodError, prefix: readonly PropertyKey[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const inUserData = issue.path[issue.path.length - 1] === "user_data";
      for (const key of issue.keys) {
        issues.push({
          field: joinPath([...path, key]),
          message: inUserData
            ? "is not a Meta customer information parameter (em, ph, fn, ln, db, ge, ct, st, zp, country, external_id, client_ip_address, client_user_agent, fbc, fbp, …)"
            : "is not a known field",
        });
      }
      continue;
    }
    issues.push({ field: path.length === 0 ? "body" : joinPath(path), message: issue.message });
  }
  return issues;
}
