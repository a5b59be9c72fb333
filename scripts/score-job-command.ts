/** `npm run score:job -- <file> --model <name>`: a bulk scoring job from a CSV or NDJSON file. */

import { existsSync } from "node:fs";
import { parseCommandLine, usageError } from "./command-line";
import { loadLocalStackConfig } from "./local/config";
import { formatOfFile, runScoreJob, type ScoreJobFormat } from "./score-job";

const USAGE = `Usage: npm run score:job -- <file> --model <name> [options]

Scores every row of a CSV file (a header row naming the features, optionally entityId) or an
NDJSON file (one {"entityId"?, "features": {…}} object per line) as a bulk scoring job: uploads
it, prints the progress, and downloads the results (row, entityId, score or error) when done.

Options:
  --model <name>     the model (required)
  --version <v>      a version; default the tenant's champion
  --format csv|ndjson  the file's format; default by extension (.csv, else NDJSON)
  --out <path>       where the results go; default <file>.scores.csv (or .ndjson)
  --results csv|ndjson  the results' format; default the file's

Environment:
  DRIFTLINE_KEY      an API key with the score role (required)
  DRIFTLINE_URL      default http://127.0.0.1:<WORKER_PORT>`;

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
if (!existsSync(file)) usageError(spec, `no file ${file}`);
if (values.model === undefined) usageError(spec, "--model is required");
const formatOption = (name: string, value: string | undefined): ScoreJobFormat | undefined => {
  if (value === undefined || value === "csv" || value === "ndjson") return value;
  usageError(spec, `--${name} takes csv or ndjson`);
};
const format = formatOption("format", values.format) ?? formatOfFile(file);
const resultsFormat = formatOption("results", values.results) ?? format;
const key = process.env.DRIFTLINE_KEY;
if (key === undefined || key === "")
  usageError(spec, "set DRIFTLINE_KEY to a key with the score role");
const baseUrl =
  process.env.DRIFTLINE_URL ?? `http://127.0.0.1:${loadLocalStackConfig().WORKER_PORT}`;

try {
  const started = Date.now();
  const { job, output } = await runScoreJob({
    baseUrl,
    key,
    model: values.model,
    ...(values.version === undefined ? {} : { version: values.version }),
    file,
    format,
    resultsFormat,
    ...(values.out === undefined ? {} : { output: values.out }),
    onProgress: (j) => {
      const { rowsDone, rowsTotal } = j.progress;
      const percent = rowsTotal === 0 ? 100 : Math.floor((100 * rowsDone) / rowsTotal);
      process.stderr.write(
        `job ${j.id}: ${j.status}, ${rowsDone.toLocaleString("en")} of ${rowsTotal.toLocaleString("en")} rows (${percent} %), ${j.counts.failed} failed\n`,
      );
    },
  });
  for (const e of job.errors.slice(0, 10)) {
    process.stderr.write(`  row ${e.row}, ${e.field}: ${e.message}\n`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `${job.status}: ${job.counts.scored} rows scored, ${job.counts.failed} failed by ${job.model} version ${job.version} in ${seconds} s; results in ${output}\n`,
  );
  process.exit(job.status === "failed" ? 1 : 0);
} catch (error) {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
  const message =
    error instanceof TypeError && error.message === "fetch failed"
      ? `Could not reach the Worker at ${baseUrl}${cause ? ` (${cause})` : ""}: is it running (npm start), or is DRIFTLINE_URL set?`
      : error instanceof Error
        ? error.message
        : String(error);
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
