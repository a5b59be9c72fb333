/**
 * `driftline dlq list|replay` against the real Kafka broker: letters written by the stream
 * processor's own dead-letter sink are listed with why and where from, and replayed to their
 * original topic with the record's key, value and headers, byte for byte.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DLQ_HEADERS, DLQ_REPLAYED_FROM_HEADER } from "#core/topics";
import {
  KafkajsDeadLetterSink,
  MAX_LETTER_BYTES,
} from "../../stream-processor/kafka/kafkajs-dead-letter-sink";
import { driftline } from "../support/driftline-cli";
import { type IntegrationEnv, startIntegrationEnv } from "../support/integration-env";
import { endOffsets, readRecords } from "../support/kafka-reader";

let env: IntegrationEnv;
let kafkaArgs: string[];
const run = randomUUID().slice(0, 8);

interface Listed {
  entry: string;
  stage: string;
  reason: string;
  originalTopic: string | null;
  originalOffset: string | null;
  truncatedFromBytes: number | null;
}

beforeAll(async () => {
  env = await startIntegrationEnv("clidlq", 2);
  kafkaArgs = ["--brokers", env.brokers.join(","), "--prefix", env.prefix];
  const sink = new KafkajsDeadLetterSink(env.kafka, {
    topic: env.topics.dlq,
    consumerGroup: "driftline-test",
  });
  const letter = (
    topic: string,
    key: string,
    value: Buffer,
    reason: string,
    stage: "decode" | "store",
    offset: string,
  ) => ({
    key: Buffer.from(key),
    value,
    headers: { "x-trace": `trace-${key}` },
    reason,
    stage,
    topic,
    partition: 0,
    offset,
  });
  await sink.send([
    letter(
      env.topics.events,
      `${run}:e1`,
      Buffer.from('{"broken":'),
      "value is not JSON: Unexpected end of JSON input",
      "decode",
      "11",
    ),
    letter(
      env.topics.events,
      `${run}:e2`,
      Buffer.from('{"schemaVersion":1}'),
      "the database refused it: value too long",
      "store",
      "12",
    ),
    letter(
      env.topics.predictions,
      `${run}:p1`,
      Buffer.from('{"prediction":1}'),
      "the database refused it: deadlock",
      "store",
      "7",
    ),
    // Cut to fit the dead-letter topic: the original is lost, so it is never replayed.
    letter(
      env.topics.capi,
      `${run}:big`,
      Buffer.alloc(MAX_LETTER_BYTES + 10, 0x61),
      "too large",
      "decode",
      "3",
    ),
    // From a topic that is not one of this deployment's.
    letter("someone-elses-topic", `${run}:x`, Buffer.from("{}"), "unknown", "decode", "1"),
  ]);
  await sink.close();
});

afterAll(async () => {
  await env?.cleanup();
});

async function listed(): Promise<Listed[]> {
  const result = await driftline(["dlq", "list", ...kafkaArgs, "--json"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Listed[];
}

describe("driftline dlq", () => {
  it("lists every letter with its reason, stage, original topic and offset", async () => {
    const entries = await listed();
    expect(entries).toHaveLength(5);
    const byKey = (topic: string, offset: string) =>
      entries.find((e) => e.originalTopic === topic && e.originalOffset === offset);
    expect(byKey(env.topics.events, "11")).toMatchObject({
      stage: "decode",
      reason: expect.stringContaining("not JSON"),
    });
    expect(byKey(env.topics.predictions, "7")).toMatchObject({
      stage: "store",
      reason: "the database refused it: deadlock",
    });
    expect(byKey(env.topics.capi, "3")?.truncatedFromBytes).toBe(MAX_LETTER_BYTES + 10);

    const table = await driftline([
      "dlq",
      "list",
      ...kafkaArgs,
      "--original-topic",
      env.topics.events,
    ]);
    expect(table.code).toBe(0);
    expect(table.stderr).toContain(`2 dead letter(s) on ${env.topics.dlq}`);
    expect(table.stdout.split("\n")[0]).toMatch(/^ENTRY\s+FAILED AT\s+STAGE\s+ORIGINAL\s+REASON$/);
    expect(table.stdout).toContain(`${env.topics.events}/0@12`);
  });

  it("replays one chosen letter to its original topic: key, value and headers as they were", async () => {
    const p1 = (await listed()).find((e) => e.originalTopic === env.topics.predictions)!;
    const from = await endOffsets(env.kafka, env.topics.predictions);
    const result = await driftline(["dlq", "replay", ...kafkaArgs, "--entry", p1.entry]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `Replayed 1 of 1 chosen letter(s): 1 to ${env.topics.predictions}.`,
    );
    const records = await readRecords(env.kafka, env.topics.predictions, from, `${run}:`, 1, {
      timeoutMs: 20_000,
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ key: `${run}:p1`, value: { prediction: 1 } });
    expect(records[0]?.headers).toEqual({
      "x-trace": `trace-${run}:p1`,
      [DLQ_REPLAYED_FROM_HEADER]: `dlq:${p1.entry}`,
    });
    for (const name of Object.values(DLQ_HEADERS))
      expect(records[0]?.headers).not.toHaveProperty(name);
  });

  it("a dry run sends nothing", async () => {
    const from = await endOffsets(env.kafka, env.topics.events);
    const result = await driftline([
      "dlq",
      "replay",
      ...kafkaArgs,
      "--all",
      "--original-topic",
      env.topics.events,
      "--dry-run",
      "--json",
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      dryRun: true,
      replayed: 2,
      perTopic: { [env.topics.events]: 2 },
    });
    expect(await endOffsets(env.kafka, env.topics.events)).toEqual(from);
  });

  it("--all replays what can go back and names what it skipped, exit 3", async () => {
    const from = await endOffsets(env.kafka, env.topics.events);
    const result = await driftline(["dlq", "replay", ...kafkaArgs, "--all", "--json"]);
    expect(result.code).toBe(3);
    const summary = JSON.parse(result.stdout) as {
      replayed: number;
      perTopic: Record<string, number>;
      skipped: { entry: string; reason: string }[];
    };
    expect(summary.replayed).toBe(3);
    expect(summary.perTopic).toEqual({ [env.topics.events]: 2, [env.topics.predictions]: 1 });
    const reasons = summary.skipped.map((s) => s.reason);
    expect(reasons).toHaveLength(2);
    expect(reasons).toContainEqual(
      expect.stringMatching(
        /^its original topic someone-elses-topic is not one this command replays to/,
      ),
    );
    expect(reasons).toContainEqual(expect.stringMatching(/^its value was cut from \d+ bytes/));
    // e1's value is not JSON (why it was dead-lettered), so the records are counted, not parsed.
    const to = await endOffsets(env.kafka, env.topics.events);
    const written = [...to].reduce((n, [p, end]) => n + Number(end) - Number(from.get(p) ?? 0), 0);
    expect(written).toBe(2);
  });

  it("an entry that is not on the topic is reported, exit 3; nothing else is sent", async () => {
    const from = await endOffsets(env.kafka, env.topics.events);
    const result = await driftline(["dlq", "replay", ...kafkaArgs, "--entry", "0:999999"]);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain("not found: 0:999999");
    expect(await endOffsets(env.kafka, env.topics.events)).toEqual(from);
  });
});
