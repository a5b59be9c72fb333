/** A migrated schema of the test database of its own, for tests that need Postgres alone (no Kafka, no relay); dropped after. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "../../scripts/migrate";
import { TEST_DATABASE_URL } from "./integration-env";

/**
 * A schema named `<prefix>_<random hex>`: its name and URL are known at once (for module-level
 * constants), `create()` migrates it and opens a pool on it, `drop()` removes it and ends the pool.
 */
export class TestSchema {
  readonly name: string;
  /** The test database's URL with this schema first on the search path (a start-up option). */
  readonly databaseUrl: string;
  private pool: pg.Pool | undefined;

  constructor(prefix: string) {
    this.name = `${prefix}_${randomBytes(6).toString("hex")}`;
    this.databaseUrl = `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${this.name}`)}`;
  }

  /** Migrates the schema; returns a plain `pg` pool on it (for arranging and asserting). */
  async create(maxConnections = 2): Promise<pg.Pool> {
    await migrate({ databaseUrl: TEST_DATABASE_URL, schema: this.name });
    this.pool = new pg.Pool({
      connectionString: TEST_DATABASE_URL,
      options: `-c search_path=${this.name}`,
      max: maxConnections,
    });
    return this.pool;
  }

  async drop(): Promise<void> {
    await this.pool?.query(`DROP SCHEMA IF EXISTS ${this.name} CASCADE`).catch(() => {});
    await this.pool?.end();
  }
}
