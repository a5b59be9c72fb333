/** The embedded PGlite's one shared session: a connection idle in a transaction is closed when others wait, instead of stalling them. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgliteServer, startPgliteServer } from "./pglite-server";

const dataDir = mkdtempSync(join(tmpdir(), "driftline-pglite-idle-"));
let server: PgliteServer;
const clients: pg.Client[] = [];
/** The asynchronous errors (a FATAL outside any query) each client received. */
const errorsOf = new Map<pg.Client, Error[]>();

async function connect(name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.databaseUrl, application_name: name });
  const errors: Error[] = [];
  errorsOf.set(client, errors);
  client.on("error", (error) => errors.push(error));
  await client.connect();
  clients.push(client);
  return client;
}

beforeAll(async () => {
  server = await startPgliteServer({
    dataDir,
    port: 0,
    idleOwnerTimeoutMs: 300,
    lockWaitTimeoutMs: 20_000,
    interactiveHint: "use the machine's PostgreSQL",
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("PGlite session scheduling with an idle transaction", () => {
  it("closes the idle owner (psql after BEGIN) so the waiting connection proceeds, and rolls its work back", async () => {
    const person = await connect("psql");
    const processor = await connect("driftline-stream-processor");
    await person.query("CREATE TABLE IF NOT EXISTS idle_probe (n int)");
    await person.query("BEGIN");
    await person.query("INSERT INTO idle_probe VALUES (1)");
    // The person now sits idle inside the transaction; the processor needs the session.
    const started = performance.now();
    const { rows } = await processor.query<{ n: string }>("SELECT count(*) AS n FROM idle_probe");
    const waitedMs = performance.now() - started;
    // Rolled back: the idle transaction's insert is gone.
    expect(rows[0]?.n).toBe("0");
    expect(waitedMs).toBeGreaterThanOrEqual(250);
    expect(waitedMs).toBeLessThan(10_000);
    // The person's connection was told why, with what to use instead, and is closed.
    const failure = await person.query("COMMIT").then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure).toBeInstanceOf(Error);
    const told = [...(errorsOf.get(person) ?? []), failure].map((e) => e?.message).join(" | ");
    expect(told).toMatch(
      /runs every connection in one shared session.*use the machine's PostgreSQL/,
    );
  });

  it("leaves a short transaction alone: the waiter simply gets the session after COMMIT", async () => {
    const a = await connect("a");
    const b = await connect("b");
    await a.query("BEGIN");
    await a.query("INSERT INTO idle_probe VALUES (2)");
    const waiting = b.query<{ n: string }>("SELECT count(*) AS n FROM idle_probe");
    await a.query("COMMIT");
    expect((await waiting).rows[0]?.n).toBe("1");
  });
});
