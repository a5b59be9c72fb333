/**
 * `driftline events replay <file>`: sends a file of events (NDJSON, or CSV with a header row)
 * through the public API in batches, rate-controlled and resumable, with a progress bar and a
 * summary of what was accepted, duplicate and rejected.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { MAX_EVENTS_PER_REQUEST } from "#core/events";
import type { ProgressBar } from "../progress-bar";
import type { CliContext } from "./cli-context";
import { EXIT, UsageError } from "./exit-codes";
import type { ReplayRoute, ReplaySummary } from "./replay/replay-events";
import { progressFileOf } from "./replay/replay-progress";
import type { ReplayFormat } from "./replay/replay-source";
import { withWorkerOptions, workerTarget } from "./worker-api";

const REPLAY_HELP = `
Files: NDJSON (one event object a line) or CSV (.csv, a header row; columns like user_data.em
nest, JSON cells are parsed, event_time digits are numbers). Events go to POST /v1/events, or to
POST /v1/capi/<pixel>/events with --pixel (Conversions API events). Each acknowledged batch is
recorded in <file>.progress.json; --resume continues after the last one. Sending a file twice
is safe: events with an event_id come back as duplicates and are counted once.
Exit 0 when every event was accepted or a duplicate, 3 when some were rejected (the summary
names the first ones), 1 when the replay stopped (resume it with --resume).`;

interface ReplayFlags {
  url?: string;
  key?: string;
  pixel?: string;
  testEventCode?: string;
  rate?: string;
  batchSize: string;
  resume: boolean;
  format?: string;
  json: boolean;
  progress: boolean;
}

function positiveNumber(flag: string, text: string, max = Infinity): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(
      `${flag} must be a number above 0${max < Infinity ? ` and at most ${max}` : ""}, not "${text}"`,
    );
  }
  return value;
}

export function describeReplay(file: string, summary: ReplaySummary): string {
  const seconds = summary.elapsedMs / 1000;
  const sent = summary.accepted + summary.duplicates + summary.rejected;
  const lines = [
    summary.sentAnything
      ? `Replayed lines ${summary.fromLine + 1}–${summary.toLine} of ${file} in ${seconds.toFixed(1)} s (${summary.requests} requests, ${Math.round(sent / Math.max(seconds, 0.001))} events/s):`
      : `Nothing left to replay in ${file} (its progress file records line ${summary.toLine} as the last one sent).`,
    `  accepted   ${summary.accepted}`,
    `  duplicate  ${summary.duplicates}`,
    `  rejected   ${summary.rejected}`,
  ];
  if (summary.fromLine > 0) {
    const t = summary.total;
    lines.push(
      `  whole file so far: ${t.accepted} accepted, ${t.duplicates} duplicate, ${t.rejected} rejected`,
    );
  }
  if (summary.firstRejections.length > 0) {
    lines.push("First rejected:");
    for (const r of summary.firstRejections) {
      lines.push(`  line ${r.line}${r.eventId ? ` (event_id ${r.eventId})` : ""}: ${r.reason}`);
    }
  }
  return lines.join("\n");
}

export function registerEventsCommands(program: Command, context: CliContext): void {
  const events = program.command("events").description("replay events through the public API");

  withWorkerOptions(events.command("replay"), "ingest")
    .description("send a file of events through the public API, resumably, at a set rate")
    .argument("<file>", "an .ndjson/.jsonl or .csv file of events")
    .option("--pixel <id>", "send to POST /v1/capi/<id>/events (Conversions API events)")
    .option("--test-event-code <code>", "with --pixel: Meta's test_event_code for every request")
    .option(
      "--rate <events/s>",
      "send at most this many events per second, in batches of at most a tenth of a second's events (default: as fast as answered)",
    )
    .option("--batch-size <n>", `events per request, 1–${MAX_EVENTS_PER_REQUEST}`, "500")
    .option("--resume", "continue after the last batch <file>.progress.json records", false)
    .option("--format <ndjson|csv>", "the file's format (default: from its extension)")
    .option("--no-progress", "no progress bar or progress lines on stderr")
    .option("--json", "print the summary as JSON", false)
    .addHelpText("after", REPLAY_HELP)
    .action(async (file: string, flags: ReplayFlags) => {
      if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
      if (flags.format !== undefined && flags.format !== "ndjson" && flags.format !== "csv") {
        throw new UsageError(`--format must be ndjson or csv, not "${flags.format}"`);
      }
      if (flags.testEventCode !== undefined && flags.pixel === undefined) {
        throw new UsageError("--test-event-code goes with --pixel");
      }
      const batchSize = positiveNumber("--batch-size", flags.batchSize, MAX_EVENTS_PER_REQUEST);
      if (!Number.isInteger(batchSize)) throw new UsageError("--batch-size must be a whole number");
      const rate = flags.rate === undefined ? undefined : positiveNumber("--rate", flags.rate);
      const route: ReplayRoute =
        flags.pixel === undefined
          ? { kind: "events" }
          : {
              kind: "capi",
              pixelId: flags.pixel,
              ...(flags.testEventCode ? { testEventCode: flags.testEventCode } : {}),
            };
      const target = workerTarget(flags);
      if (!flags.resume && existsSync(progressFileOf(file))) {
        process.stderr.write(
          `Starting ${file} from the beginning (--resume continues where ${progressFileOf(file)} says the last replay stopped).\n`,
        );
      }
      // The replay's modules (CSV parser, progress bar) load when it runs, not for --help.
      const { replayEvents } = await import("./replay/replay-events");
      const { formatOf } = await import("./replay/replay-source");
      const { startProgressBar } = await import("../progress-bar");
      const format = (flags.format as ReplayFormat | undefined) ?? formatOf(file);
      let bar: ProgressBar | undefined;
      try {
        const summary = await replayEvents({
          file,
          format,
          target,
          route,
          batchSize,
          ...(rate === undefined ? {} : { ratePerSecond: rate }),
          resume: flags.resume,
          onProgress: ({ offset, sizeBytes, line, counts }) => {
            bar ??= flags.progress
              ? startProgressBar({
                  label: "replay",
                  total: sizeBytes,
                  unit: "bytes",
                  detail:
                    "line {line}, {accepted} accepted, {duplicates} duplicate, {rejected} rejected",
                  payload: { line: 0, accepted: 0, duplicates: 0, rejected: 0 },
                })
              : undefined;
            bar?.update(offset, { line, ...counts });
          },
        });
        bar?.stop();
        bar = undefined;
        console.log(
          flags.json ? JSON.stringify({ file, ...summary }) : describeReplay(file, summary),
        );
        context.setExitCode(summary.rejected > 0 ? EXIT.partial : EXIT.ok);
      } finally {
        bar?.stop();
      }
    });
}
