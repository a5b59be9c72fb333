/** Postgres for the local stack: DATABASE_URL if given (checked), else embedded PGlite; plus the Neon relay. */

import { databaseTarget, parseDatabaseUrl, redactDatabaseUrl } from "#core/config";
import { DependencyUnavailableError } from "#core/errors";
import type { LocalStackConfig } from "./config";
import { neonRelayService } from "./neon-ws-relay";
import { pgliteDatabaseUrl, pgliteService, postgresAnswers } from "./pglite-server";
import type { LocalService, ServiceEndpoint } from "./service";

export interface PostgresEndpoint extends ServiceEndpoint {
  /** The DATABASE_URL every Driftline process should use (same as `url`). */
  databaseUrl: string;
  /** `ws://127.0.0.1:<NEON_WS_RELAY_PORT>`, for `createNeonPool({ wsRelayUrl })`. */
  wsRelayUrl: string;
  /** `pglite` when the embedded database serves it, `external` for a given DATABASE_URL. */
  kind: "pglite" | "external";
}

export interface PostgresService extends LocalService {
  up(): Promise<PostgresEndpoint>;
}

/** The DATABASE_URL a local stack uses: the configured one, else the embedded PGlite's. */
export function localDatabaseUrl(config: LocalStackConfig): string {
  return config.DATABASE_URL ?? pgliteDatabaseUrl(config.PGLITE_PORT);
}

/**
 * With DATABASE_URL set: checks that it answers (it is never started or stopped here) and runs
 * the relay in front of it. Without: runs PGlite (data in DRIFTLINE_STATE_DIR/pglite) and the
 * relay. `up()` resolves to the DATABASE_URL to use. Migrations are not applied here (see
 * scripts/migrate.ts).
 */
export function postgresService(config: LocalStackConfig): PostgresService {
  const external = config.DATABASE_URL;
  const databaseUrl = localDatabaseUrl(config);
  // An invalid DATABASE_URL is reported by up(), with the variable's name.
  const target = (() => {
    try {
      return databaseTarget(databaseUrl);
    } catch {
      return undefined;
    }
  })();
  const pglite = external === undefined ? pgliteService(config) : undefined;
  const relay = neonRelayService(config, { requiredTargets: target === undefined ? [] : [target] });
  const wsRelayUrl = `ws://127.0.0.1:${config.NEON_WS_RELAY_PORT}`;

  return {
    name: "postgres",
    processes: [...(pglite?.processes ?? []), ...(relay.processes ?? [])],
    async isReady() {
      return (await postgresAnswers(databaseUrl)) && (await relay.isReady());
    },
    async up(): Promise<PostgresEndpoint> {
      let startedHere = false;
      if (external !== undefined) {
        parseDatabaseUrl(external);
        if (!(await postgresAnswers(external, 5_000))) {
          throw new DependencyUnavailableError(
            `DATABASE_URL (${redactDatabaseUrl(external)}) does not answer. Start that Postgres, ` +
              "fix DATABASE_URL, or unset it to use the embedded PGlite.",
          );
        }
      } else {
        startedHere = (await pglite!.up()).startedHere;
      }
      const relayEndpoint = await relay.up();
      return {
        url: databaseUrl,
        databaseUrl,
        wsRelayUrl,
        kind: external === undefined ? "pglite" : "external",
        startedHere: startedHere || relayEndpoint.startedHere,
      };
    },
    async down(): Promise<void> {
      await relay.down();
      await pglite?.down();
    },
  };
}
