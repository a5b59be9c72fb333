/**
 * `driftline dlq list|replay`: the dead letters on the Kafka `dlq` topic (why, from where, when),
 * and sending chosen or all of them back to their original topic once the cause is fixed.
 */
import type { Command } from "commander";
import { topicNames } from "#core/topics";
import { loadLocalStackConfig } from "../local/config";
import type { CliContext } from "./cli-context";
import type { DeadLetterEntry, ReplayDecision } from "./dlq/dead-letters";
import { EXIT, UsageError } from "./exit-codes";

interface KafkaFlags {
  brokers?: string;
  prefix?: string;
}

const KAFKA_HELP = `
Kafka: the local stack's broker and topic prefix (KAFKA_PORT, KAFKA_TOPIC_PREFIX), or --brokers
and --prefix for another deployment's.`;

function withKafkaOptions(command: Command): Command {
  return command
    .option("--brokers <host:port,…>", "Kafka brokers (default: the local stack's)")
    .option("--prefix <prefix>", "the deployment's topic prefix (default KAFKA_TOPIC_PREFIX)");
}

/** `<partition>:<offset>`, how an entry is named on the command line. */
const entryId = (e: { partition: number; offset: string }) => `${e.partition}:${e.offset}`;

// kafkajs loads when a dlq command runs, not for --help.
async function connect(flags: KafkaFlags) {
  const { Kafka, logLevel } = await import("kafkajs");
  const stack = loadLocalStackConfig();
  // 127.0.0.1, not localhost, as the local stack's broker advertises itself.
  const brokers = flags.brokers
    ?.split(",")
    .map((b) => b.trim())
    .filter(Boolean) ?? [`127.0.0.1:${stack.KAFKA_PORT}`];
  if (brokers.length === 0) throw new UsageError("--brokers names no broker");
  const topics = topicNames(flags.prefix ?? stack.KAFKA_TOPIC_PREFIX);
  const kafka = new Kafka({
    clientId: "driftline-cli",
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  return { kafka, topics, brokers };
}

const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

export function formatDeadLetterTable(entries: readonly DeadLetterEntry[]): string {
  const header = ["ENTRY", "FAILED AT", "STAGE", "ORIGINAL", "REASON"];
  const rows = entries.map((e) => [
    entryId(e),
    e.failedAt ?? "-",
    e.stage,
    e.originalTopic === undefined
      ? "-"
      : `${e.originalTopic}/${e.originalPartition ?? "?"}@${e.originalOffset ?? "?"}`,
    clip(e.reason.replace(/\s+/g, " "), 100),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((cells) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const entryJson = (e: DeadLetterEntry) => ({
  entry: entryId(e),
  partition: e.partition,
  offset: e.offset,
  failedAt: e.failedAt ?? null,
  stage: e.stage,
  reason: e.reason,
  originalTopic: e.originalTopic ?? null,
  originalPartition: e.originalPartition ?? null,
  originalOffset: e.originalOffset ?? null,
  valueBytes: e.value?.length ?? 0,
  truncatedFromBytes: e.truncatedFromBytes ?? null,
});

const collect = (value: string, previous: string[]) => [
  ...previous,
  ...value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean),
];

export function registerDlqCommands(program: Command, context: CliContext): void {
  const dlq = program
    .command("dlq")
    .description("list the dead letters on the Kafka dlq topic and replay them")
    .addHelpText("after", KAFKA_HELP);

  withKafkaOptions(dlq.command("list"))
    .description(
      "every letter on the dlq topic: entry (partition:offset), time, stage, original topic, reason",
    )
    .option("--original-topic <topic>", "only letters from this topic")
    .option("--json", "print a JSON array", false)
    .action(async (flags: KafkaFlags & { originalTopic?: string; json: boolean }) => {
      const { kafka, topics } = await connect(flags);
      const { readDeadLetters } = await import("./dlq/dead-letters");
      const entries = (await readDeadLetters(kafka, topics.dlq)).filter(
        (e) => flags.originalTopic === undefined || e.originalTopic === flags.originalTopic,
      );
      if (flags.json) return void console.log(JSON.stringify(entries.map(entryJson)));
      process.stderr.write(`${entries.length} dead letter(s) on ${topics.dlq}.\n`);
      if (entries.length > 0) console.log(formatDeadLetterTable(entries));
    });

  withKafkaOptions(dlq.command("replay"))
    .description("send letters back to their original topic (with --all, or the --entry ones)")
    .option(
      "--entry <partition:offset>",
      "a letter to replay, as dlq list names it (repeatable, or comma-separated)",
      collect,
      [],
    )
    .option("--all", "every letter (narrowed by --original-topic / --stage)", false)
    .option("--original-topic <topic>", "only letters from this topic")
    .option("--stage <stage>", "only letters refused at this stage (decode, store, deliver)")
    .option("--dry-run", "say what would be replayed, send nothing", false)
    .option("--json", "print the summary as JSON", false)
    .addHelpText(
      "after",
      "\nA replayed record keeps its key, value and own headers, and carries driftline-dlq-replayed-from: dlq:<partition>:<offset>.\nThe letters stay on the dlq topic (Kafka topics are append-only). Exit 3 when some chosen letters were skipped.",
    )
    .action(
      async (
        flags: KafkaFlags & {
          entry: string[];
          all: boolean;
          originalTopic?: string;
          stage?: string;
          dryRun: boolean;
          json: boolean;
        },
      ) => {
        if (flags.all === flags.entry.length > 0) {
          throw new UsageError(
            "give --all or one or more --entry <partition:offset> (one of them)",
          );
        }
        for (const id of flags.entry) {
          if (!/^\d+:\d+$/.test(id))
            throw new UsageError(`--entry "${id}" is not <partition>:<offset>, e.g. 0:42`);
        }
        const { kafka, topics } = await connect(flags);
        const { readDeadLetters, replayDecision, sendBack } = await import("./dlq/dead-letters");
        const entries = await readDeadLetters(kafka, topics.dlq);
        const wanted = new Set(flags.entry);
        const missing = flags.entry.filter((id) => !entries.some((e) => entryId(e) === id));
        const chosen = entries.filter(
          (e) =>
            (flags.all || wanted.has(entryId(e))) &&
            (flags.originalTopic === undefined || e.originalTopic === flags.originalTopic) &&
            (flags.stage === undefined || e.stage === flags.stage),
        );
        // Back to the deployment's own topics only, never to the dlq itself.
        const allowed = new Set(Object.values(topics).filter((t) => t !== topics.dlq));
        const decisions = chosen.map((e) => replayDecision(e, allowed));
        const replay = decisions.filter(
          (d): d is Extract<ReplayDecision, { kind: "replay" }> => d.kind === "replay",
        );
        const skipped = decisions.filter(
          (d): d is Extract<ReplayDecision, { kind: "skip" }> => d.kind === "skip",
        );
        if (!flags.dryRun) await sendBack(kafka, replay);
        const perTopic: Record<string, number> = {};
        for (const d of replay) perTopic[d.topic] = (perTopic[d.topic] ?? 0) + 1;
        const summary = {
          dryRun: flags.dryRun,
          replayed: replay.length,
          perTopic,
          skipped: skipped.map((s) => ({ entry: entryId(s.entry), reason: s.reason })),
          notFound: missing,
        };
        if (flags.json) console.log(JSON.stringify(summary));
        else {
          const verb = flags.dryRun ? "Would replay" : "Replayed";
          const where = Object.entries(perTopic)
            .map(([t, n]) => `${n} to ${t}`)
            .join(", ");
          console.log(
            `${verb} ${replay.length} of ${chosen.length} chosen letter(s)${where ? `: ${where}` : ""}.`,
          );
          for (const s of skipped) console.log(`  skipped ${entryId(s.entry)}: ${s.reason}`);
          for (const id of missing)
            console.log(`  not found: ${id} (not on ${topics.dlq}; see driftline dlq list)`);
        }
        context.setExitCode(skipped.length > 0 || missing.length > 0 ? EXIT.partial : EXIT.ok);
      },
    );
}
