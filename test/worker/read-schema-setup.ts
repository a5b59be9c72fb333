/** Worker tests' global setup (Node): migrates the read API's schema in the test database, drops it after. */
import pg from "pg";
import { migrate } from "../../scripts/migrate";
import { TEST_DATABASE_URL } from "../support/integration-env";

export async function setup(): Promise<() => Promise<void>> {
  const schema = process.env.DRIFTLINE_WORKER_READ_SCHEMA;
  if (schema === undefined || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error("DRIFTLINE_WORKER_READ_SCHEMA is not set by vitest.config.ts");
  }
  await migrate({ databaseUrl: TEST_DATABASE_URL, schema });
  return async () => {
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await db.end();
    }
  };
}
