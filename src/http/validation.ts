/** Turns zod validation failures into Driftline's 400 body, naming each field and why. */
import type { Hook } from "@hono/zod-openapi";
import type { z } from "zod";
import { type FieldIssue, ValidationError } from "#core/errors";

export function issuesFromZod(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".") || "(body)",
    message: issue.message,
  }));
}

/** zod-openapi `defaultHook`: a failed request schema throws a ValidationError for `onError`. */
// biome-ignore lint/suspicious/noExplicitAny: the hook is generic over every route's env and input.
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const target = "target" in result ? String(result.target) : "request";
  const issues = issuesFromZod(result.error as z.ZodError);
  const summary = issues
    .slice(0, 3)
    .map((i) => `${i.field}: ${i.message}`)
    .join("; ");
  throw new ValidationError(`Invalid ${target}: ${summary}`, issues);
};
