/**
 * `driftline`: Driftline's operations command. One module per command group registers its
 * subcommands here; `--help` at every level prints on stdout and exits 0. Exit codes: 0 done,
 * 1 failed, 2 usage error (nothing done), 3 partial (done, some items refused or skipped).
 */
import { pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { forgottenSeparatorHint } from "../command-line";
import type { CliContext, CommandGroup } from "./cli-context";
import { registerDlqCommands } from "./dlq";
import { registerEventsCommands } from "./events";
import { EXIT, type ExitCode, exitCodeOf, oneLine } from "./exit-codes";
import { registerKeysCommands } from "./keys";
import { registerModelsCommands } from "./models";
import { registerPrivacyCommands } from "./privacy";
import { registerScoreCommands } from "./score";

/** The command groups, in `--help` order; a new group is one line here. */
const GROUPS: CommandGroup[] = [
  registerKeysCommands,
  registerModelsCommands,
  registerEventsCommands,
  registerDlqCommands,
  registerScoreCommands,
  registerPrivacyCommands,
];

const EPILOG = `
Exit codes: 0 done, 1 failed, 2 usage error (nothing done), 3 partial (done, but some items were
refused or skipped; the summary says which).
Every command takes --help. Documentation: docs/cli.md.`;

export function buildProgram(context: CliContext): Command {
  const program = new Command("driftline")
    .description(
      "Operate a Driftline deployment: API keys, models, event replays, dead letters, bulk scoring, tenant deletion and erasure.",
    )
    .addHelpText("after", EPILOG)
    .exitOverride()
    .showHelpAfterError("(add --help for the usage)")
    // Usage errors as one line on stderr; help on stdout.
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, "driftline: ")),
    });
  for (const register of GROUPS) register(program, context);
  return program;
}

/**
 * Every long option of the program's commands, as node:util parseArgs names them, so that
 * `npm run driftline keys list --tenant x` (no `--`: npm keeps `--tenant`) gets a hint.
 */
function longOptionNames(command: Command): Record<string, { type: "string" }> {
  const names: Record<string, { type: "string" }> = {};
  const visit = (c: Command) => {
    for (const option of c.options)
      if (option.long) names[option.long.replace(/^--/, "")] = { type: "string" };
    for (const sub of c.commands) visit(sub);
  };
  visit(command);
  // npm sets npm_config_prefix in every script's environment: it says nothing about a forgotten `--`.
  delete names.prefix;
  return names;
}

/** Runs one command line (without node and the script); resolves to its exit code. */
export async function runCli(argv: readonly string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const program = buildProgram({ setExitCode: (c) => (code = c) });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    // Commander has already printed its message (or the help, for --help: exit 0).
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok;
      // Only `npm run driftline` can swallow the command's options (npx and other scripts set
      // npm_config_* of their own, e.g. npx's npm_config_yes).
      const hint =
        process.env.npm_lifecycle_event === "driftline"
          ? forgottenSeparatorHint("npm run driftline", longOptionNames(program))
          : "";
      if (hint) process.stderr.write(`${hint}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`driftline: ${oneLine(error)}\n`);
    return exitCodeOf(error);
  }
}

/** The process entry: runs the command line and exits with its code (open sockets included). */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<never> {
  const code = await runCli(argv);
  process.exit(code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
