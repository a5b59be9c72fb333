/** NeonPersonErasureStore through the local WebSocket relay to real PostgreSQL, as the Worker connects. */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, type NeonWsRelay, startNeonWsRelay } from "../../test/support/integration-env";
import { NeonPersonErasureStore } from "./neon-person-erasure-store";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `test_erasure_store_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const databaseUrl = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;

let relay: NeonWsRelay;
let db: pg.Pool;

beforeAll(async () => {
  await migrate({ databaseUrl: POSTGRES_URL, schema });
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
  db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
});

afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.end();
  await relay.close();
});

describe("NeonPersonErasureStore", () => {
  it("deletes the keyed entities' predictions and linked rows of one tenant, with counts", async () => {
    for (const tenant of ["t1", "t2"]) {
      await db.query(
        `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, entity_id, click_id, score, predicted_at)
         VALUES ($1, 'p1', 'm', '1', 'k-jane', 'c1', 0.1, now()), ($1, 'p2', 'm', '1', 'k-other', NULL, 0.2, now())`,
        [tenant],
      );
      await db.query(
        `INSERT INTO conversion_keys (tenant_id, key_kind, key, event_name, event_id, event_time)
         VALUES ($1, 'prediction', 'p1', 'Purchase', 'o1', now()), ($1, 'click', 'c1', 'Purchase', 'o2', now())`,
        [tenant],
      );
      await db.query(
        "INSERT INTO click_id_predictions (tenant_id, prediction_id, click_id) VALUES ($1, 'p1', 'c1')",
        [tenant],
      );
    }
    const store = new NeonPersonErasureStore({ databaseUrl, wsRelayUrl: relay.url });
    try {
      expect(await store.erase("t1", ["k-jane"])).toEqual({
        predictions: 1,
        click_id_predictions: 1,
        conversion_keys: 2,
      });
      expect(await store.erase("t1", ["k-jane"])).toEqual({
        predictions: 0,
        click_id_predictions: 0,
        conversion_keys: 0,
      });
    } finally {
      await store.close();
    }
    const left = await db.query(
      "SELECT tenant_id, prediction_id FROM predictions ORDER BY tenant_id, prediction_id",
    );
    expect(left.rows).toEqual([
      { tenant_id: "t1", prediction_id: "p2" },
      { tenant_id: "t2", prediction_id: "p1" },
      { tenant_id: "t2", prediction_id: "p2" },
    ]);
    const t2 = await db.query(
      "SELECT count(*)::int AS n FROM conversion_keys WHERE tenant_id = 't2'",
    );
    expect(t2.rows[0].n).toBe(2);
  });
});
