/**
 * `DRIFTLINE_ENV=production`: every program refuses to start with settings that only suit a
 * local run (default tokens, plain http to credentialed services, unauthenticated listeners,
 * Kafka without TLS or SASL), naming each one, instead of running insecurely.
 */
import type { EnvProblem } from "./parse-env.ts";

/** A check of one setting in production: the problem in words, or undefined when it is fine. */
export interface ProductionRule {
  key: string;
  problem(value: string | undefined): string | undefined;
}

const text = (value: unknown): string | undefined =>
  value === undefined || value === null || value === "" ? undefined : String(value);

/** True when DRIFTLINE_ENV says production (`production`, any case). */
export function isProduction(env: Readonly<Record<string, unknown>>): boolean {
  return text(env.DRIFTLINE_ENV)?.toLowerCase() === "production";
}

/** The rules' problems when the environment is production; none otherwise. */
export function productionProblems(
  env: Readonly<Record<string, unknown>>,
  rules: readonly ProductionRule[],
): EnvProblem[] {
  const mode = text(env.DRIFTLINE_ENV)?.toLowerCase();
  if (mode !== undefined && mode !== "production" && mode !== "local") {
    return [{ key: "DRIFTLINE_ENV", message: "must be production or local (the default)" }];
  }
  if (mode !== "production") return [];
  return rules.flatMap((rule) => {
    const message = rule.problem(text(env[rule.key]));
    return message === undefined
      ? []
      : [{ key: rule.key, message: `${message} (DRIFTLINE_ENV=production)` }];
  });
}

/** The setting must be an https:// URL: it carries credentials. */
export const requireHttps = (key: string): ProductionRule => ({
  key,
  problem: (v) =>
    v !== undefined && !v.toLowerCase().startsWith("https://")
      ? "must be an https:// URL: credentials are sent to it"
      : undefined,
});

/** The setting must be given. */
export const requireSet = (key: string, why: string): ProductionRule => ({
  key,
  problem: (v) => (v === undefined ? `must be set: ${why}` : undefined),
});

/** The setting must not keep (or be absent and so take) the local default. */
export const forbidLocalDefault = (key: string, localDefault: string): ProductionRule => ({
  key,
  problem: (v) =>
    v === undefined || v === localDefault
      ? "must be set to a secret of your own, not the local default"
      : undefined,
});

/** The setting must be `true`. */
export const requireTrue = (key: string, why: string): ProductionRule => ({
  key,
  problem: (v) => (v?.toLowerCase() === "true" || v === "1" ? undefined : `must be true: ${why}`),
});

/** The setting must not be given: it only makes sense locally. */
export const forbidSet = (key: string, why: string): ProductionRule => ({
  key,
  problem: (v) => (v === undefined ? undefined : `must not be set: ${why}`),
});
