/** `driftline score <file>`: a bulk scoring job with a progress bar (the code of `npm run score:job`). */
import type { Command } from "commander";
import type { CliContext } from "./cli-context";
import { EXIT } from "./exit-codes";

export function registerScoreCommands(program: Command, context: CliContext): void {
  program
    .command("score")
    .description("score every row of a CSV or NDJSON file as a bulk job, with progress")
    .argument("<file>", "CSV (header row of feature names, optional entityId) or NDJSON")
    .requiredOption("--model <name>", "the model")
    .option("--version <v>", "a version (default: the tenant's champion)")
    .option("--format <csv|ndjson>", "the file's format (default: by extension)")
    .option("--out <path>", "where the results go (default: <file>.scores.csv or .ndjson)")
    .option("--results <csv|ndjson>", "the results' format (default: the file's)")
    .option("--url <url>", "the Worker (default: DRIFTLINE_URL, else the local stack's)")
    .option("--key <key>", "an API key with the score role (default: DRIFTLINE_KEY)")
    .addHelpText(
      "after",
      "\nExit codes: 0 every row scored, 3 the job finished with failed rows (partial), 1 the job failed.",
    )
    .action(
      async (
        file: string,
        flags: {
          model: string;
          version?: string;
          format?: string;
          out?: string;
          results?: string;
          url?: string;
          key?: string;
        },
      ) => {
        const { scoreFile } = await import("../score-job-command");
        const job = await scoreFile({ file, ...flags });
        if (job.status === "failed") context.setExitCode(EXIT.failure);
        else if (job.status === "partial") context.setExitCode(EXIT.partial);
      },
    );
}
