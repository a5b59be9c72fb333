/** The Neon WebSocket relay between the real Neon driver and the machine's PostgreSQL. */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createNeonPool } from "../../test/support/integration-env";
import { loadLocalStackConfig } from "./config";
import {
  fetchRelayHealth,
  type NeonWsRelay,
  neonRelayService,
  startNeonWsRelay,
} from "./neon-ws-relay";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

let relay: NeonWsRelay;
let admin: pg.Client;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

async function backendsNamed(applicationName: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
    [applicationName],
  );
  return rows[0]!.n;
}

async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(25);
  }
}

let closedPort: number;

beforeAll(async () => {
  closedPort = await freePort();
  relay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432", `127.0.0.1:${closedPort}`] });
  admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
});

afterAll(async () => {
  await relay?.close();
  await admin?.end();
});

describe("Neon WebSocket relay", () => {
  it("refuses targets outside the allow-list before opening any TCP connection", async () => {
    const status = await new Promise<number | undefined>((resolveStatus) => {
      const socket = new WebSocket(`${relay.url}/v2?address=127.0.0.1:22`);
      socket.on("unexpected-response", (_req, res) => resolveStatus(res.statusCode));
      socket.on("open", () => resolveStatus(101));
      socket.on("error", () => {});
    });
    expect(status).toBe(403);

    const pool = createNeonPool({
      databaseUrl: "postgres://postgres@127.0.0.1:6/test",
      wsRelayUrl: relay.url,
    });
    await expect(pool.query("SELECT 1")).rejects.toThrow(/403/);
    await pool.end();
    expect(relay.openConnections()).toBe(0);
  });

  it("refuses an upgrade from a web page (Origin header), even to an allowed target", async () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number | undefined>((resolveStatus) => {
        const socket = new WebSocket(`${relay.url}/v2?address=127.0.0.1:5432`, { headers });
        socket.on("unexpected-response", (_req, res) => resolveStatus(res.statusCode));
        socket.on("open", () => {
          socket.close();
          resolveStatus(101);
        });
        socket.on("error", () => {});
      });
    expect(await upgrade({ Origin: "https://attacker.example" })).toBe(403);
    expect(await upgrade({})).toBe(101);
  });

  it("fails a query promptly when the allowed target does not listen", async () => {
    const pool = createNeonPool({
      databaseUrl: `postgres://postgres@127.0.0.1:${closedPort}/test`,
      wsRelayUrl: relay.url,
      connectionTimeoutMs: 5000,
    });
    const started = Date.now();
    await expect(pool.query("SELECT 1")).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(4000);
    await pool.end();
    await eventually(() => relay.openConnections() === 0);
  });

  it("carries large messages both ways unchanged", async () => {
    const pool = createNeonPool({ databaseUrl: POSTGRES_URL, wsRelayUrl: relay.url, max: 1 });
    try {
      // 8 MiB up (a bound parameter) and 8 MiB down (the echoed value), hashed on both sides.
      const payload = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24;
      const text = payload.toString("base64");
      const { rows } = await pool.query<{ echo: string; md5: string }>(
        "SELECT $1::text AS echo, md5($1::text) AS md5",
        [text],
      );
      expect(rows[0]!.md5).toBe(createHash("md5").update(text).digest("hex"));
      expect(rows[0]!.echo === text).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it("serves concurrent connections, and closing a client closes its Postgres backend", async () => {
    const applicationName = `relay-test-${randomUUID().slice(0, 8)}`;
    const pool = createNeonPool({
      databaseUrl: `${POSTGRES_URL}?application_name=${applicationName}`,
      wsRelayUrl: relay.url,
      max: 8,
    });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        pool
          .query<{ x: number }>("SELECT $1::int AS x, pg_sleep(0.005)", [i])
          .then((r) => r.rows[0]!.x),
      ),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await backendsNamed(applicationName)).toBe(pool.totalCount);
    expect(relay.openConnections()).toBe(pool.totalCount);

    await pool.end();
    await eventually(async () => (await backendsNamed(applicationName)) === 0);
    await eventually(() => relay.openConnections() === 0);
  });

  it("ends the Postgres side when the relay drops the WebSocket side", async () => {
    const ownRelay = await startNeonWsRelay({ port: 0, allow: ["127.0.0.1:5432"] });
    const applicationName = `relay-drop-${randomUUID().slice(0, 8)}`;
    const idleErrors: Error[] = [];
    const pool = createNeonPool({
      databaseUrl: `${POSTGRES_URL}?application_name=${applicationName}`,
      wsRelayUrl: ownRelay.url,
      max: 2,
      onIdleClientError: (error) => idleErrors.push(error),
    });
    await Promise.all([pool.query("SELECT pg_sleep(0.01)"), pool.query("SELECT pg_sleep(0.01)")]);
    expect(await backendsNamed(applicationName)).toBe(2);

    await ownRelay.close();
    await eventually(async () => (await backendsNamed(applicationName)) === 0);
    // The pool heard about both broken idle connections (instead of crashing the process)
    // and dropped them.
    await eventually(() => idleErrors.length === 2 && pool.totalCount === 0);
    await pool.end();
  });
});

describe("neonRelayService", () => {
  it("starts the relay as a daemon, reuses it, checks its allow-list and stops it", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "driftline-relay-"));
    const port = await freePort();
    const pglitePort = await freePort();
    const config = loadLocalStackConfig({
      DRIFTLINE_STATE_DIR: stateDir,
      NEON_WS_RELAY_PORT: String(port),
      PGLITE_PORT: String(pglitePort),
    });
    const service = neonRelayService(config, { requiredTargets: [`127.0.0.1:${pglitePort}`] });
    try {
      expect(await service.isReady()).toBe(false);
      expect(await service.up()).toEqual({ url: `ws://127.0.0.1:${port}`, startedHere: true });
      expect((await fetchRelayHealth(port))?.allow).toEqual(
        expect.arrayContaining(["127.0.0.1:5432", `127.0.0.1:${pglitePort}`]),
      );
      expect((await service.up()).startedHere).toBe(false);

      // A relay already running for other targets is not silently reused.
      const other = neonRelayService(config, { requiredTargets: ["db.elsewhere:5432"] });
      await expect(other.up()).rejects.toThrow(/does not allow db\.elsewhere:5432/);

      const pool = createNeonPool({
        databaseUrl: POSTGRES_URL,
        wsRelayUrl: `ws://127.0.0.1:${port}`,
      });
      expect((await pool.query("SELECT 41 + 1 AS answer")).rows).toEqual([{ answer: 42 }]);
      await pool.end();
    } finally {
      await service.down();
      rmSync(stateDir, { recursive: true, force: true });
    }
    expect(await service.isReady()).toBe(false);
  });
});
