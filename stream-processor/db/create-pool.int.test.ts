/** Session limits of the processor's pool, against the machine's Postgres through the relay. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NeonWsRelay, startNeonWsRelay } from "../../test/support/integration-env";
import { createNeonPool } from "./create-pool";

const DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
let relay: NeonWsRelay;

beforeAll(async () => {
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
});
afterAll(async () => {
  await relay?.close();
});

describe("createNeonPool session timeouts", () => {
  it("sets statement, lock and idle-in-transaction timeouts on every connection", async () => {
    const pool = createNeonPool({ databaseUrl: DATABASE_URL, wsRelayUrl: relay.url, max: 2 });
    try {
      const clients = await Promise.all([pool.connect(), pool.connect()]);
      for (const client of clients) {
        const { rows } = await client.query<{ s: string; l: string; i: string }>(
          "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('idle_in_transaction_session_timeout') AS i",
        );
        expect(rows[0]).toEqual({ s: "2min", l: "30s", i: "5min" });
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("cancels a statement that runs past statement_timeout (SQLSTATE 57014)", async () => {
    const pool = createNeonPool({
      databaseUrl: DATABASE_URL,
      wsRelayUrl: relay.url,
      max: 1,
      timeouts: { statementMs: 200 },
    });
    try {
      await expect(pool.query("SELECT pg_sleep(5)")).rejects.toMatchObject({ code: "57014" });
      // The connection is still usable afterwards.
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
