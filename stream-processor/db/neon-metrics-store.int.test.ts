import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "#core/errors";
import { aggregateWindows, HOUR_MS, MINUTE_MS } from "#core/windows";
import { type IntegrationEnv, startIntegrationEnv } from "../../test/support/integration-env";
import { browserDedupDigest, dedupDigest } from "../pipeline/dedup-digest";
import type { DedupKey } from "../ports/metrics-store";
import { windowDelta } from "../testing/fakes";
import { nullableTextArray, numberArray, textArray } from "./array-literals";
import type { Pool } from "./create-pool";
import { NeonMetricsStore } from "./neon-metrics-store";

const T0 = Date.parse("2026-03-01T10:15:00Z");

const dedupKey = (tenant: string, eventName: string, eventId: string): DedupKey => ({
  tenant,
  eventName,
  eventId,
  digest: dedupDigest(tenant, eventName, eventId),
});

const browserKey = (tenant: string, eventName: string, eventId: string): DedupKey => ({
  tenant,
  eventName,
  eventId,
  digest: browserDedupDigest(tenant, eventName, eventId),
  serverDigest: dedupDigest(tenant, eventName, eventId),
});

describe("NeonMetricsStore on Postgres (through the Neon driver and relay)", () => {
  let env: IntegrationEnv;
  let pool: Pool;
  let store: NeonMetricsStore;

  beforeAll(async () => {
    env = await startIntegrationEnv("store", 1);
    pool = env.neonPool(2);
    store = new NeonMetricsStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await env?.cleanup();
  });

  it("array literals survive quotes, backslashes, commas, braces, NULL and unicode", async () => {
    const tricky = ['a"b', "c\\d", "e,f", "{g}", "NULL", " spaced ", "", "ünï😀", 'x\\"y'];
    const { rows } = await env.db.query<{ v: string[]; n: string[]; m: (string | null)[] }>(
      "SELECT $1::text[] AS v, $2::numeric[]::text[] AS n, $3::text[] AS m",
      [
        textArray(tricky),
        numberArray([1, -2.5, "12.340000", 1e-7, 1772366400000]),
        nullableTextArray([null, ...tricky, undefined]),
      ],
    );
    expect(rows[0]!.v).toEqual(tricky);
    expect(rows[0]!.n).toEqual(["1", "-2.5", "12.340000", "0.0000001", "1772366400000"]);
    expect(rows[0]!.m).toEqual([null, ...tricky, null]);
  });

  it("remembers dedup keys and reports the ones seen before, including tricky ids", async () => {
    const keys = ["plain", 'quo"te', "back\\slash", "com,ma", "NULL"].map((eventId) =>
      dedupKey("acme", "Purchase", eventId),
    );
    const first = await store.inTransaction((tx) => tx.markSeen(keys));
    expect([...first]).toEqual([]);
    const again = await store.inTransaction((tx) =>
      tx.markSeen([dedupKey("acme", "Lead", "plain"), keys[1]!, keys[4]!]),
    );
    expect([...again].sort()).toEqual([1, 2]);
  });

  it("makes a browser copy a duplicate of a remembered server event, never the reverse", async () => {
    // The browser copy first: it cannot stand in for the server event.
    const first = await store.inTransaction((tx) =>
      tx.markSeen([browserKey("acme", "Purchase", "b-1"), dedupKey("acme", "Lead", "b-1")]),
    );
    expect([...first]).toEqual([]);
    const server = await store.inTransaction((tx) =>
      tx.markSeen([dedupKey("acme", "Purchase", "b-1")]),
    );
    expect([...server]).toEqual([]);
    // Once the server event is remembered, a browser copy (new or repeated) is a duplicate.
    const after = await store.inTransaction((tx) =>
      tx.markSeen([
        dedupKey("acme", "Signup", "b-2"),
        browserKey("acme", "Purchase", "b-1"),
        browserKey("acme", "Lead", "b-1"),
        browserKey("acme", "Purchase", "b-3"),
      ]),
    );
    expect([...after].sort()).toEqual([1, 2]);
  });

  it("admits dimension values up to each tenant's cap, in order, answering the known ones too", async () => {
    const caps = { eventNames: 3, campaigns: 1 };
    const v = (
      tenant: string,
      value: string,
      dimension: "event_name" | "campaign" = "event_name",
    ) => ({ tenant, dimension, value });
    const first = await store.inTransaction((tx) =>
      tx.admitDimensionValues([v("cap", "b"), v("cap", "a"), v("cap", "spring", "campaign")], caps),
    );
    expect(first).toHaveLength(3);
    const second = await store.inTransaction((tx) =>
      tx.admitDimensionValues(
        [v("cap", "d"), v("cap", "c"), v("cap", "a"), v("cap", "x", "campaign"), v("other", "d")],
        caps,
      ),
    );
    expect(second.map((x) => `${x.tenant}/${x.dimension}/${x.value}`).sort()).toEqual([
      "cap/event_name/a",
      "cap/event_name/d",
      "other/event_name/d",
    ]);
    // A rolled-back admission leaves nothing behind.
    await expect(
      store.inTransaction(async (tx) => {
        await tx.admitDimensionValues([v("rollback", "a")], caps);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const { rows } = await env.db.query(
      "SELECT 1 FROM tenant_dimension_values WHERE tenant_id = 'rollback'",
    );
    expect(rows).toEqual([]);
  });

  it("hashes dedup keys exactly as the migration that converted the text keys did", async () => {
    const keys = [
      dedupKey("acme", "Purchase", "plain"),
      dedupKey("t.1_x-y", "Käufe 😀", 'quo"te\\back,{}'),
      dedupKey("acme", "$prediction", `sha256:${"ab".repeat(32)}`),
      // Moving a separator between the parts must change the key.
      dedupKey("acme", "Purchas", "eplain"),
    ];
    // The expression of migrations/1795388000000_seen-events-hashed-keys.sql.
    const { rows } = await env.db.query<{ key: string }>(
      `SELECT encode(substring(sha256(
                convert_to(t, 'UTF8') || '\\x00'::bytea || convert_to(n, 'UTF8')
                || '\\x00'::bytea || convert_to(i, 'UTF8')) FROM 1 FOR 16), 'hex')::uuid::text AS key
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(t, n, i, o) ORDER BY o`,
      [keys.map((k) => k.tenant), keys.map((k) => k.eventName), keys.map((k) => k.eventId)],
    );
    const expected = keys.map((k) => {
      const h = k.digest;
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    });
    expect(rows.map((r) => r.key)).toEqual(expected);
    expect(new Set(expected).size).toBe(keys.length);
    // And a key the store remembered is the one the migration would have written.
    await store.inTransaction((tx) => tx.markSeen([keys[1]!]));
    const stored = await env.db.query("SELECT key::text FROM seen_events WHERE key = $1::uuid", [
      expected[1],
    ]);
    expect(stored.rows).toEqual([{ key: expected[1] }]);
  });

  it("advances offsets only by compare-and-set, and rolls back with the batch", async () => {
    const at = (expected: string | null, next: string) => ({
      groupId: "g",
      topic: "events",
      partition: 0,
      expectedNextOffset: expected,
      nextOffset: next,
    });
    expect(await store.inTransaction((tx) => tx.advanceOffset(at(null, "10")))).toEqual({
      ok: true,
    });
    expect(await store.inTransaction((tx) => tx.advanceOffset(at(null, "20")))).toEqual({
      ok: false,
      storedNextOffset: "10",
    });
    expect(await store.inTransaction((tx) => tx.advanceOffset(at("5", "20")))).toEqual({
      ok: false,
      storedNextOffset: "10",
    });
    await expect(
      store.inTransaction(async (tx) => {
        await tx.advanceOffset(at("10", "20"));
        throw new Error("batch failed after the offset moved");
      }),
    ).rejects.toThrow(/batch failed/);
    expect(await store.loadNextOffsets("g", "events", [0, 1])).toEqual(new Map([[0, "10"]]));
    expect(await store.inTransaction((tx) => tx.advanceOffset(at("10", "20")))).toEqual({
      ok: true,
    });
  });

  it("advances several offsets in one statement, each by compare-and-set", async () => {
    const at = (partition: number, expected: string | null, next: string) => ({
      groupId: "g",
      topic: "capi",
      partition,
      expectedNextOffset: expected,
      nextOffset: next,
    });
    expect(
      await store.inTransaction((tx) => tx.advanceOffsets([at(0, null, "10"), at(1, null, "7")])),
    ).toEqual([{ ok: true }, { ok: true }]);
    // Partition 1 is fenced (another member moved it to 7); partition 0 moved but rolls back
    // with the transaction when the caller throws.
    await expect(
      store.inTransaction(async (tx) => {
        const results = await tx.advanceOffsets([
          at(0, "10", "20"),
          at(1, "3", "9"),
          at(2, "1", "2"),
        ]);
        expect(results).toEqual([
          { ok: true },
          { ok: false, storedNextOffset: "7" },
          { ok: false, storedNextOffset: null },
        ]);
        throw new Error("fenced");
      }),
    ).rejects.toThrow(/fenced/);
    expect(await store.loadNextOffsets("g", "capi", [0, 1, 2])).toEqual(
      new Map([
        [0, "10"],
        [1, "7"],
      ]),
    );
    expect(
      await store.inTransaction((tx) =>
        tx.advanceOffsets([at(1, "7", "12"), at(0, "10", "20"), at(2, null, "5")]),
      ),
    ).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(await store.loadNextOffsets("g", "capi", [0, 1, 2])).toEqual(
      new Map([
        [0, "20"],
        [1, "12"],
        [2, "5"],
      ]),
    );
  });

  it("adds window deltas (values exact to the micro) and raises watermarks, never lowering them", async () => {
    const observe = (valueMicros: bigint, eventTimeMs: number) => ({
      kind: "event" as const,
      tenant: "acme",
      source: "web",
      eventName: "Purchase",
      campaign: 'spring "24"',
      eventTimeMs,
      valueMicros,
      currency: "USD",
      matchQuality: 2.25,
      attributed: false,
    });
    const spec = {
      widthsMs: [MINUTE_MS, HOUR_MS],
      allowedLatenessMs: 120_000,
      maxFutureSkewMs: 300_000,
    };
    for (const [micros, t] of [
      [100_000n, T0 + 5 * MINUTE_MS],
      [200_000n, T0],
    ] as const) {
      const agg = aggregateWindows([observe(micros, t)], spec, {
        maxEventTimeMs: new Map(),
        nowMs: T0 + HOUR_MS,
      });
      await store.inTransaction(async (tx) => {
        await tx.applyWindowDeltas(agg.deltas);
        await tx.advanceWatermarks(agg.maxEventTimeMs);
      });
    }
    const { rows } = await env.db.query<{ events: string; value: string; mq: number }>(
      `SELECT sum(w.event_count)::text AS events, sum(v.value_sum)::text AS value, sum(w.match_quality_sum) AS mq
       FROM metric_windows w JOIN metric_window_values v USING (tenant_id, window_seconds, window_start, source, event_name, campaign)
       WHERE w.window_seconds = 3600`,
    );
    // 0.1 + 0.2 in floats would be 0.30000000000000004.
    expect(rows[0]).toEqual({ events: "2", value: "0.300000", mq: 4.5 });
    expect(await store.loadMaxEventTimes()).toEqual(new Map([["acme", T0 + 5 * MINUTE_MS]]));
  });

  it("turns data Postgres refuses into a ValidationError (isolated and dead-lettered, not retried)", async () => {
    // Not aligned to the minute: the table's CHECK refuses it.
    const bad = windowDelta({ windowStartMs: T0 + 30_000 });
    const error = await store
      .inTransaction((tx) => tx.applyWindowDeltas([bad]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).context?.sqlstate).toBe("23514");
  });

  it("purges dedup entries older than the retention, and only those", async () => {
    await env.db.query(
      `INSERT INTO seen_events (key, first_seen_at)
       SELECT md5('old' || i)::uuid, now() - interval '5 days' FROM generate_series(1, 25000) i`,
    );
    const before = Number((await env.db.query("SELECT count(*) FROM seen_events")).rows[0].count);
    const deleted = await store.purgeSeen(Date.now() - 3 * 24 * 3_600_000);
    expect(deleted).toBe(25_000);
    const after = Number((await env.db.query("SELECT count(*) FROM seen_events")).rows[0].count);
    expect(after).toBe(before - 25_000);
    expect(after).toBeGreaterThan(0);
  });
});
