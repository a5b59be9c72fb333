/** postgresService with a DATABASE_URL: checks it, never starts PGlite, runs the relay in front of it. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import { createNeonPool } from "../../test/support/integration-env";
import { loadLocalStackConfig } from "./config";
import { postgresAnswers } from "./pglite-server";
import { postgresService } from "./postgres";
import { runningPid } from "./process";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const stateDirs: string[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

async function configWith(databaseUrl: string) {
  const stateDir = mkdtempSync(join(tmpdir(), "driftline-postgres-"));
  stateDirs.push(stateDir);
  return loadLocalStackConfig({
    DRIFTLINE_STATE_DIR: stateDir,
    DATABASE_URL: databaseUrl,
    PGLITE_PORT: String(await freePort()),
    NEON_WS_RELAY_PORT: String(await freePort()),
  });
}

afterAll(() => {
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

describe("postgresService with DATABASE_URL", () => {
  it("uses the given database and starts only the relay", async () => {
    const config = await configWith(POSTGRES_URL);
    const service = postgresService(config);
    try {
      const endpoint = await service.up();
      expect(endpoint).toMatchObject({
        url: POSTGRES_URL,
        databaseUrl: POSTGRES_URL,
        kind: "external",
        wsRelayUrl: `ws://127.0.0.1:${config.NEON_WS_RELAY_PORT}`,
        startedHere: true,
      });
      expect(runningPid(config.DRIFTLINE_STATE_DIR, "pglite")).toBeUndefined();
      expect(await service.isReady()).toBe(true);

      const pool = createNeonPool({
        databaseUrl: endpoint.databaseUrl,
        wsRelayUrl: endpoint.wsRelayUrl,
      });
      const { rows } = await pool.query<{ port: number }>("SELECT inet_server_port() AS port");
      expect(rows).toEqual([{ port: 5432 }]);
      await pool.end();
    } finally {
      await service.down();
    }
    // down() stopped the relay; the external database is not ours to stop.
    expect(runningPid(config.DRIFTLINE_STATE_DIR, "neon-ws-relay")).toBeUndefined();
    expect(await postgresAnswers(POSTGRES_URL)).toBe(true);
  });

  it("names DATABASE_URL when it does not answer, without leaking the password", async () => {
    const config = await configWith(`postgres://app:hunter2@127.0.0.1:${await freePort()}/app`);
    const error = await postgresService(config)
      .up()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toMatch(
      /^DATABASE_URL \(postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/app\) does not answer/,
    );
    expect((error as Error).message).not.toContain("hunter2");
    expect(runningPid(config.DRIFTLINE_STATE_DIR, "neon-ws-relay")).toBeUndefined();
  });

  it("names DATABASE_URL when it is not a Postgres URL", async () => {
    const config = await configWith("mysql://root@127.0.0.1/app");
    await expect(postgresService(config).up()).rejects.toThrow(ConfigError);
    await expect(postgresService(config).up()).rejects.toThrow(
      /DATABASE_URL must start with postgres:\/\//,
    );
  });
});
