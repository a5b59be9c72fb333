/** Parses an environment with a zod schema; one ConfigError names every bad key and what is wrong. */
import type { z } from "zod";
import { ConfigError } from "../errors.ts";

/** A problem with one key (`KAFKA_BROKERS.0`), in words a user can act on; never the value. */
export interface EnvProblem {
  key: string;
  message: string;
}

export interface ParseEnvOptions {
  /** Opens the error message, e.g. "Invalid stream processor environment:". */
  heading: string;
  /** `lines` (default): one indented line per problem; `inline`: after the heading, joined by "; ". */
  layout?: "lines" | "inline";
  /** Names an issue of the environment as a whole in the message. Default "(env)". */
  rootLabel?: string;
  /** Problems across keys, found on the raw values, reported together with the schema's. */
  crossKeyProblems?: readonly EnvProblem[];
}

/**
 * The schema's output for `env`; otherwise a ConfigError whose message lists every problem as
 * `KEY: message` and whose `context.keys` lists the keys.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: unknown,
  options: ParseEnvOptions,
): z.output<S> {
  const parsed = schema.safeParse(env);
  const problems: EnvProblem[] = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => ({ key: i.path.join("."), message: i.message }))),
    ...(options.crossKeyProblems ?? []),
  ];
  if (parsed.success && problems.length === 0) return parsed.data;
  const rootLabel = options.rootLabel ?? "(env)";
  const lines = problems.map((p) => `${p.key || rootLabel}: ${p.message}`);
  const message =
    options.layout === "inline"
      ? `${options.heading} ${lines.join("; ")}`
      : `${options.heading}\n${lines.map((line) => `  ${line}`).join("\n")}`;
  throw new ConfigError(message, { context: { keys: problems.map((p) => p.key) } });
}
