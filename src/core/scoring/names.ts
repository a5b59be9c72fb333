/** Identifier rules shared by the Worker, the scripts and Postgres (the same regex as migrations/). */

/** Tenant ids, model names and versions: start alphanumeric, then letters, digits, `.`, `_`, `-`. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const IDENTIFIER_RULE =
  "1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit";

export function isIdentifier(value: string): boolean {
  return IDENTIFIER_PATTERN.test(value);
}
