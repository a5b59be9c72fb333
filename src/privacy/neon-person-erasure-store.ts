/** PersonErasureStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import type { Pool } from "@neondatabase/serverless";
import { DependencyUnavailableError } from "#core/errors";
import { PERSON_ERASURE_STATEMENT, type PersonTable, personErasureCounts } from "#core/privacy";
import { createRequestPool, type NeonReadStoreOptions } from "../read-api/neon-read-store";
import type { PersonErasureStore } from "./person-erasure-store";

export class NeonPersonErasureStore implements PersonErasureStore {
  private readonly pool: Pool;

  constructor(options: NeonReadStoreOptions) {
    this.pool = createRequestPool(options);
  }

  async erase(tenant: string, entityKeys: readonly string[]): Promise<Record<PersonTable, number>> {
    try {
      // One statement: its deletes commit together or not at all.
      const { rows } = await this.pool.query(PERSON_ERASURE_STATEMENT, [tenant, [...entityKeys]]);
      return personErasureCounts(rows[0] as Record<string, unknown> | undefined);
    } catch (error) {
      throw new DependencyUnavailableError(
        "Could not erase the person's rows: Postgres is unreachable or failing. Nothing was erased; retry.",
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
