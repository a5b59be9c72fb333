/** Builds the PersonErasureServices from the Worker's configuration: Neon when DATABASE_URL is set. */
import { DependencyUnavailableError } from "#core/errors";
import type { ParkedBundleBucket } from "#core/privacy";
import { NeonPersonErasureStore } from "./neon-person-erasure-store";
import type { PersonErasureServices } from "./person-erasure-store";

export interface PersonErasureSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
  deadLetters: ParkedBundleBucket | undefined;
}

export function personErasureServices(settings: PersonErasureSettings): PersonErasureServices {
  const { databaseUrl, wsRelayUrl } = settings;
  return {
    deadLetters: settings.deadLetters,
    open: () => {
      if (databaseUrl === undefined) {
        throw new DependencyUnavailableError(
          "Erasure is not configured: set the DATABASE_URL secret (wrangler secret put DATABASE_URL, or .dev.vars) to the Postgres the stream processor writes.",
          { retryable: false },
        );
      }
      return new NeonPersonErasureStore({
        databaseUrl,
        ...(wsRelayUrl === undefined ? {} : { wsRelayUrl }),
      });
    },
  };
}
