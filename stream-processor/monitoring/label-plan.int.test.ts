// The direct-label statement against real Postgres: how the planner finds the prediction a
// conversion names, when the statistics lag behind a table that grew (a new deployment, a
// backfill). Plans are the product here; timings would be noise.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestSchema } from "../../test/support/test-schema";
import type { Queryable } from "../db/timed-query";
import { NeonMonitoringTransaction } from "./neon-monitoring-store";

const schema = new TestSchema("mon_plan");
const DAY = 86_400_000;
const SCORED_AT = Date.UTC(2026, 10, 20);

let pool: pg.Pool;

/** `n` unlabelled predictions of tenant acme, ids p-<from>…, scored at SCORED_AT. */
async function insertPredictions(from: number, n: number): Promise<void> {
  await pool.query(
    `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, predicted_at)
     SELECT 'acme', 'p-' || i, 'conversion', '1', 0.5, to_timestamp($3::bigint / 1000.0)
     FROM generate_series($1::int, $1::int + $2::int - 1) AS i`,
    [from, n, SCORED_AT],
  );
}

beforeAll(async () => {
  pool = await schema.create(2);
  // A new deployment: statistics taken while the table was empty, then 50,000 predictions
  // arrive before autovacuum analyses it again.
  await pool.query("ANALYZE predictions");
  await insertPredictions(0, 50_000);
}, 120_000);

afterAll(() => schema.drop());

describe("labelling a prediction a conversion names", () => {
  it("labels it, and the statement finds it by primary key, not by walking the tenant's unlabelled predictions", async () => {
    const client = await pool.connect();
    const statements: { name?: string; text: string; values?: unknown[] }[] = [];
    const recording: Queryable = {
      query: async <R>(config: (typeof statements)[number]) => {
        statements.push(config);
        const { rows, rowCount } = await client.query(config);
        return { rows: rows as R[], rowCount };
      },
    };
    try {
      await new NeonMonitoringTransaction(recording).recordLabels(
        {
          conversionKeys: [
            {
              tenant: "acme",
              kind: "prediction",
              key: "p-25000",
              eventName: "Purchase",
              eventId: "order-1",
              eventTimeMs: SCORED_AT + 60_000,
            },
          ],
          clickMappings: [],
        },
        7 * DAY,
      );
      const { rows } = await client.query<{ label: boolean; label_event_id: string }>(
        "SELECT label, label_event_id FROM predictions WHERE tenant_id = 'acme' AND prediction_id = 'p-25000'",
      );
      expect(rows).toEqual([{ label: true, label_event_id: "order-1" }]);

      // The processor runs it as a prepared statement: after a few executions Postgres keeps
      // one generic plan for the connection. Ask for that plan directly.
      const direct = statements.find((s) => s.name?.endsWith("label_direct"));
      expect(direct).toBeDefined();
      await client.query(`PREPARE label_direct_plan AS ${direct?.text}`);
      await client.query("SET plan_cache_mode = force_generic_plan");
      const { rows: plan } = await client.query<{ "QUERY PLAN": unknown }>(
        `EXPLAIN (FORMAT JSON) EXECUTE label_direct_plan('{acme}', '{p-30000}', '{order-2}', '{${SCORED_AT + 60_000}}', ${7 * DAY})`,
      );
      const text = JSON.stringify(plan[0]?.["QUERY PLAN"]);
      expect(text).toContain('"Index Name":"predictions_pkey"');
      expect(text).not.toContain("predictions_unlabelled");
    } finally {
      await client.query("DEALLOCATE ALL").catch(() => {});
      await client.query("RESET plan_cache_mode").catch(() => {});
      client.release();
    }
  });
});
