/** A driver protocol fault (a query-answer message with no query in flight) breaks one connection, never the process. */
import { Client } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ws from "ws";
import { type NeonWsRelay, startNeonWsRelay } from "../../test/support/integration-env";
import {
  createNeonPool,
  DatabaseProtocolFault,
  type PoolClient,
  withTransaction,
} from "./create-pool";
import { isTransientFailure } from "./sqlstate";

const DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
let relay: NeonWsRelay;

/** What the server's answer to a query looks like when it reaches a connection out of step. */
const STRAY_ROW_DESCRIPTION = { name: "rowDescription", fieldCount: 0, fields: [] };

interface WithConnection {
  connection: { emit(event: string, message: unknown): boolean };
}

function injectStrayRowDescription(client: unknown): void {
  (client as WithConnection).connection.emit("rowDescription", STRAY_ROW_DESCRIPTION);
}

beforeAll(async () => {
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
});
afterAll(async () => {
  await relay?.close();
});

describe("driver protocol faults", () => {
  it("the unguarded driver throws the handleRowDescription TypeError (the fault is real)", async () => {
    const client = new Client({ connectionString: DATABASE_URL });
    client.neonConfig.webSocketConstructor = ws;
    client.neonConfig.wsProxy = (host, port) => `${relay.url.slice(5)}/v2?address=${host}:${port}`;
    client.neonConfig.useSecureWebSocket = false;
    client.neonConfig.pipelineConnect = false;
    client.neonConfig.pipelineTLS = false;
    await client.connect();
    // After a query has completed, the driver's activeQuery is null, as in the field report.
    await client.query("SELECT 1");
    try {
      expect(() => injectStrayRowDescription(client)).toThrow(
        /Cannot read properties of null \(reading 'handleRowDescription'\)/,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it("turns the fault on an idle pooled connection into a dropped connection", async () => {
    const pool = createNeonPool({ databaseUrl: DATABASE_URL, wsRelayUrl: relay.url, max: 1 });
    const errors: Error[] = [];
    pool.on("error", (error: Error) => errors.push(error));
    try {
      const client = await pool.connect();
      await client.query("SELECT 1");
      client.release();
      // Idle in the pool now: the pool's own error listener sees the fault.
      const idle = await pool.connect();
      idle.release();
      expect(() => injectStrayRowDescription(idle)).not.toThrow();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(DatabaseProtocolFault);
      expect(errors[0]?.message).toMatch(/RowDescription arrived with no query in flight/);
      // The broken connection was dropped; the next query opens a fresh one.
      const { rows } = await pool.query<{ n: number }>("SELECT 41 + 1 AS n");
      expect(rows[0]?.n).toBe(42);
    } finally {
      await pool.end();
    }
  });

  it("fails the transaction in hand with a retryable error, and the retry succeeds", async () => {
    const pool = createNeonPool({ databaseUrl: DATABASE_URL, wsRelayUrl: relay.url, max: 1 });
    pool.on("error", () => undefined);
    try {
      const lost: Error[] = [];
      const attempt = withTransaction(pool, async (client: PoolClient) => {
        client.on("error", (error: Error) => lost.push(error));
        await client.query("SELECT 1");
        injectStrayRowDescription(client);
        await client.query("SELECT 2");
      });
      const failure = await attempt.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      // The batch handler holds the batch and retries on this, it does not dead-letter it.
      expect(isTransientFailure(failure)).toBe(true);
      expect(lost[0]).toBeInstanceOf(DatabaseProtocolFault);
      const retried = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ n: number }>("SELECT 7 AS n");
        return rows[0]?.n;
      });
      expect(retried).toBe(7);
    } finally {
      await pool.end();
    }
  });
});
