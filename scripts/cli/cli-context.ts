/** What a command group gets besides its parent command: the outcome of the run. */
import type { Command } from "commander";
import type { ExitCode } from "./exit-codes";

export interface CliContext {
  /** Sets the run's exit code (e.g. EXIT.partial); the last call wins. */
  setExitCode(code: ExitCode): void;
}

/** A command group: registers its commands under `program`. */
export type CommandGroup = (program: Command, context: CliContext) => void;
