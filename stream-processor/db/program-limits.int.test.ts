// Postgres' "program limit exceeded" class (54000: e.g. an index row too large; 54001: stack depth
// exceeded, e.g. a value nested too deep for jsonb) refuses the data itself: the same statement
// fails the same way every time. Against the machine's Postgres through the relay: a batch
// holding such a record dead-letters that record and commits the rest, without a single retry.
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isDriftlineError } from "#core/errors";
import { type NeonWsRelay, startNeonWsRelay } from "../../test/support/integration-env";
import { type BatchCommitter, createBatchHandler } from "../batch/handle-batch";
import type { SourceBatch } from "../kafka/event-source";
import { ManualClock, RecordingDeadLetterSink, RecordingObserver } from "../testing/fakes";
import { createNeonPool, type Pool } from "./create-pool";
import { NeonBatchTransactions } from "./neon-batch-transactions";

const DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `limits_${randomBytes(4).toString("hex")}`;
let relay: NeonWsRelay;
let pool: Pool;

/** 12,800 characters of random hex: too large for a btree index entry even compressed. */
const HUGE_KEY = "SELECT string_agg(md5(random()::text), '') AS v FROM generate_series(1, 400)";
/** A JSON array nested far deeper than Postgres' stack allows. */
const DEEP_JSON = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;

beforeAll(async () => {
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
  pool = createNeonPool({ databaseUrl: DATABASE_URL, wsRelayUrl: relay.url, max: 2 });
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query(
    `CREATE TABLE ${schema}.items (offset_id bigint PRIMARY KEY, name text NOT NULL, doc jsonb)`,
  );
  await pool.query(`CREATE INDEX ON ${schema}.items (name)`);
});

afterAll(async () => {
  await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await pool?.end();
  await relay?.close();
});

interface Item {
  offset: string;
  kind: "plain" | "huge-key" | "deep-json";
}

/** Stores each record in one transaction with nothing else (offsets are not this test's concern). */
function committer(transactions: NeonBatchTransactions): BatchCommitter<Item> & { calls: number } {
  const c = {
    calls: 0,
    async commit(records: readonly Item[]) {
      c.calls += 1;
      await transactions.inTransaction(async (tx) => {
        for (const r of records) {
          if (r.kind === "huge-key") {
            await tx.sql.query({
              text: `INSERT INTO ${schema}.items (offset_id, name) SELECT $1, v FROM (${HUGE_KEY}) s`,
              values: [r.offset],
            });
          } else {
            await tx.sql.query({
              text: `INSERT INTO ${schema}.items (offset_id, name, doc) VALUES ($1, $2, $3::jsonb)`,
              values: [r.offset, `item-${r.offset}`, r.kind === "deep-json" ? DEEP_JSON : "{}"],
            });
          }
        }
      });
      return { kind: "committed" as const, counted: records.length, duplicates: 0 };
    },
  };
  return c;
}

const RANGE = { topic: "events", partition: 0, expectedNextOffset: null, nextOffset: "2" };
const NO_CONTEXT = { deadLetterRefused: async () => {} };

describe("SQLSTATE class 54 (program limit exceeded)", () => {
  it.each([
    ["54000, an index row too large", "huge-key", "54000"],
    ["54001, jsonb nested past the stack depth", "deep-json", "54001"],
  ] as const)("%s: a refusal of the data, not a failure to retry", async (_name, kind, code) => {
    const transactions = new NeonBatchTransactions(pool);
    const error = await committer(transactions)
      .commit([{ offset: "1", kind }], RANGE, NO_CONTEXT)
      .catch((e: unknown) => e);
    expect(isDriftlineError(error)).toBe(true);
    expect(error).toMatchObject({
      code: "VALIDATION",
      retryable: false,
      context: { sqlstate: code },
    });
  });

  it("a batch with such records dead-letters them and commits the rest, with no retry", async () => {
    const transactions = new NeonBatchTransactions(pool);
    const store = committer(transactions);
    const deadLetters = new RecordingDeadLetterSink();
    const observer = new RecordingObserver();
    const kinds: Item["kind"][] = ["plain", "huge-key", "plain", "plain", "deep-json", "plain"];
    const items: Item[] = kinds.map((kind, i) => ({ offset: String(100 + i), kind }));
    const batch: SourceBatch = {
      topic: "events",
      partition: 0,
      records: items.map((i) => ({
        offset: i.offset,
        key: null,
        value: Buffer.from(i.kind),
        headers: {},
        timestampMs: 0,
      })),
      expectedNextOffset: "100",
      nextOffset: "106",
      highWatermark: "106",
    };
    const handle = createBatchHandler<Item>({
      prepare: async (b) => ({
        batch: b,
        accepted: items,
        inBatchDuplicates: 0,
        skipped: 0,
        deadLetters: [],
      }),
      committer: store,
      deadLetters,
      clock: new ManualClock(Date.now()),
      backoff: { initialMs: 100, maxMs: 1_000 },
      log: pino({ level: "silent" }),
      observer,
    });
    const outcome = await (
      await handle(batch, { heartbeat: async () => {}, isRunning: () => true })
    )();

    expect(outcome.kind).toBe("committed");
    expect(observer.retries).toEqual([]);
    expect(deadLetters.letters.map((l) => [l.offset, l.stage])).toEqual([
      ["101", "store"],
      ["104", "store"],
    ]);
    expect(deadLetters.letters[0]?.reason).toMatch(/database refused it.*54000/);
    expect(deadLetters.letters[1]?.reason).toMatch(/database refused it.*54001/);
    const { rows } = await pool.query<{ offset_id: string }>(
      `SELECT offset_id::text FROM ${schema}.items ORDER BY offset_id`,
    );
    expect(rows.map((r) => r.offset_id)).toEqual(["100", "102", "103", "105"]);
    // Bisection: at most two commits per record and the whole batch once.
    expect(store.calls).toBeLessThanOrEqual(2 * items.length + 1);
  });
});
