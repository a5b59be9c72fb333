/** Builds the ReadStoreSource from the Worker's configuration: Neon when DATABASE_URL is set. */
import { DependencyUnavailableError } from "#core/errors";
import { NeonReadStore } from "./neon-read-store";
import type { ReadStoreSource } from "./read-store";

export interface ReadSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
  allowedLatenessMs: number;
  metricsMaxRows: number;
  defaultAttributionWindowMs: number;
}

export function readStoreSource(settings: ReadSettings): ReadStoreSource {
  const { databaseUrl, wsRelayUrl, ...rest } = settings;
  return {
    ...rest,
    open: () => {
      if (databaseUrl === undefined) {
        throw new DependencyUnavailableError(
          "The read API is not configured: set the DATABASE_URL secret (wrangler secret put DATABASE_URL, or .dev.vars) to the Postgres the stream processor writes.",
          { retryable: false },
        );
      }
      return new NeonReadStore({
        databaseUrl,
        ...(wsRelayUrl === undefined ? {} : { wsRelayUrl }),
      });
    },
  };
}
