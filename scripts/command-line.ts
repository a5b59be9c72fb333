/**
 * Command lines of the npm scripts, read with node:util parseArgs: `--help`/`-h` prints the usage
 * on stdout and exits 0; a usage error prints one message (no stack trace), a hint when npm
 * swallowed the options (a forgotten `--`), and exits 2.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

export interface CommandLineSpec<O extends ParseArgsOptionsConfig> {
  /** How a user runs it, e.g. `npm run bench:score`. */
  command: string;
  /** The full usage text, printed by --help. */
  usage: string;
  options: O;
  allowPositionals?: boolean;
  allowNegative?: boolean;
  argv?: string[];
  env?: NodeJS.ProcessEnv;
}

const HELP = { help: { type: "boolean", short: "h" } } as const;

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & typeof HELP;
    strict: true;
    allowPositionals: true;
  }>
>;

/**
 * The options npm took for itself: `npm run x --tenant demo` (no `--`) makes npm read
 * `--tenant` as its own config (npm_config_tenant) and pass only `demo` to the script.
 */
export function optionsNpmSwallowed(
  options: ParseArgsOptionsConfig,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (env.npm_lifecycle_event === undefined) return [];
  return Object.keys(options).filter(
    (name) => env[`npm_config_${name.replace(/-/g, "_")}`] !== undefined,
  );
}

/** The hint for a forgotten `--`, or "" when npm took none of the options. */
export function forgottenSeparatorHint(
  command: string,
  options: ParseArgsOptionsConfig,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const swallowed = optionsNpmSwallowed(options, env);
  if (swallowed.length === 0) return "";
  return (
    `npm kept ${swallowed.map((s) => `--${s}`).join(", ")} for itself: put \`--\` before the script's options, e.g. ` +
    `\`${command} -- --${swallowed[0]} …\``
  );
}

/** Exits 2 with `message`, the `--` hint when it applies, and where to find the usage. */
export function usageError(
  spec: Pick<CommandLineSpec<ParseArgsOptionsConfig>, "command" | "options" | "env">,
  message: string,
): never {
  const hint = forgottenSeparatorHint(spec.command, spec.options, spec.env);
  process.stderr.write(
    `${spec.command}: ${message}\n${hint ? `${hint}\n` : ""}Run \`${spec.command} -- --help\` for the options.\n`,
  );
  process.exit(2);
}

export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  spec: CommandLineSpec<O>,
): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({
      args: spec.argv ?? process.argv.slice(2),
      options: { ...spec.options, ...HELP },
      strict: true,
      allowPositionals: true,
      allowNegative: spec.allowNegative ?? false,
    }) as Parsed<O>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // parseArgs appends advice about positionals starting with "-", which only confuses here.
    usageError(spec, message.replace(/ To specify a positional argument.*$/s, ""));
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${spec.usage.trim()}\n`);
    process.exit(0);
  }
  if (!spec.allowPositionals && parsed.positionals.length > 0) {
    usageError(spec, `unexpected argument '${parsed.positionals[0]}'`);
  }
  return parsed;
}
