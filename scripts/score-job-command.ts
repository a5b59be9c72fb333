/** `npm run score:job -- <file> --model <name>`: a bulk scoring job from a CSV or NDJSON file. */

import { existsSync } from "node:fs";
import { ValidationError } from "#core/errors";
import { parseCommandLine, usageError } from "./command-line";
import { runIfMain } from "./keys-common";
import { loadLocalStackConfig } from "./local/config";
import { startProgressBar } from "./progress-bar";
import { formatOfFile, runScoreJob, type ScoreJobFormat, type ScoreJobState } from "./score-job";

const USAGE = `Usage: npm run score:job -- <file> --model <name> [options]

Scores every row of a CSV file (a header row naming the features, optionally entityId) or an
NDJSON file (one {"entityId"?, "features": {…}} object per line) as a bulk scoring job: uploads
it, shows the progress, and downloads the results (row, entityId, score or error) when done.

Options:
  --model <name>     the model (required)
  --version <v>      a version; default the tenant's champion
  --format csv|ndjson  the file's format; default by extension (.csv, else NDJSON)
  --out <path>       where the results go; default <file>.scores.csv (or .ndjson)
  --results csv|ndjson  the results' format; default the file's

Environment:
  DRIFTLINE_KEY      an API key with the score role (required)
  DRIFTLINE_URL      default http://127.0.0.1:<WORKER_PORT>`;

export interface ScoreFileOptions {
  file: string;
  model: string | undefined;
  version?: string | undefined;
  format?: string | undefined;
  out?: string | undefined;
  results?: string | undefined;
  /** Default DRIFTLINE_URL, else the local stack's Worker. */
  url?: string | undefined;
  /** Default DRIFTLINE_KEY. */
  key?: string | undefined;
}

function formatOption(name: string, value: string | undefined): ScoreJobFormat | undefined {
  if (value === undefined || value === "csv" || value === "ndjson") return value;
  throw new ValidationError(`--${name} takes csv or ndjson`);
}

/**
 * `npm run score:job` and `driftline score`: checks the command line (a ValidationError names what
 * to fix before anything is sent), runs the job with a progress bar on stderr, prints the summary
 * and answers the job's final state.
 */
export async function scoreFile(options: ScoreFileOptions): Promise<ScoreJobState> {
  const { file } = options;
  if (!existsSync(file)) throw new ValidationError(`no file ${file}`);
  if (options.model === undefined) throw new ValidationError("--model is required");
  const format = formatOption("format", options.format) ?? formatOfFile(file);
  const resultsFormat = formatOption("results", options.results) ?? format;
  const key = options.key ?? process.env.DRIFTLINE_KEY;
  if (key === undefined || key === "") {
    throw new ValidationError("set DRIFTLINE_KEY (or --key) to a key with the score role");
  }
  const baseUrl =
    options.url ??
    process.env.DRIFTLINE_URL ??
    `http://127.0.0.1:${loadLocalStackConfig().WORKER_PORT}`;

  const started = Date.now();
  let bar: ReturnType<typeof startProgressBar> | undefined;
  try {
    const { job, output } = await runScoreJob({
      baseUrl,
      key,
      model: options.model,
      ...(options.version === undefined ? {} : { version: options.version }),
      file,
      format,
      resultsFormat,
      ...(options.out === undefined ? {} : { output: options.out }),
      onProgress: (j) => {
        const { rowsDone, rowsTotal } = j.progress;
        bar ??= startProgressBar({
          label: `job ${j.id}`,
          total: rowsTotal,
          unit: "items",
          detail: "{status}, {failed} failed",
          payload: { status: j.status, failed: 0 },
        });
        bar.setTotal(rowsTotal);
        bar.update(rowsDone, { status: j.status, failed: j.counts.failed });
      },
    });
    bar?.stop();
    for (const e of job.errors.slice(0, 10)) {
      process.stderr.write(`  row ${e.row}, ${e.field}: ${e.message}\n`);
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `${job.status}: ${job.counts.scored} rows scored, ${job.counts.failed} failed by ${job.model} version ${job.version} in ${seconds} s; results in ${output}\n`,
    );
    return job;
  } catch (error) {
    bar?.stop();
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
    if (error instanceof TypeError && error.message === "fetch failed") {
      throw new Error(
        `Could not reach the Worker at ${baseUrl}${cause ? ` (${cause})` : ""}: is it running (npm start), or is DRIFTLINE_URL set?`,
      );
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const spec = {
    command: "npm run score:job",
    usage: USAGE,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      version: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      results: { type: "string" },
    },
  } as const;
  const { values, positionals } = parseCommandLine(spec);
  const [file, ...rest] = positionals;
  if (file === undefined) usageError(spec, "name the file to score");
  if (rest.length > 0) usageError(spec, `unexpected argument '${rest[0]}'`);
  try {
    const job = await scoreFile({ file, model: values.model, ...values });
    process.exit(job.status === "failed" ? 1 : 0);
  } catch (error) {
    if (error instanceof ValidationError) usageError(spec, error.message);
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

runIfMain(import.meta.url, main);
