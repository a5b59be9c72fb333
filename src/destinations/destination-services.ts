/** Builds the DestinationServices from the Worker's configuration (Neon when DATABASE_URL is set) and the route middleware opening a store per request. */
import type { MiddlewareHandler } from "hono";
import { importDestinationKey } from "#core/destinations";
import { DependencyUnavailableError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";
import type { DestinationServices } from "./destination-store";
import { NeonDestinationStore } from "./neon-destination-store";

export interface DestinationSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
  encryptionKey: string;
  maxPerTenant: number;
}

export function destinationServices(settings: DestinationSettings): DestinationServices {
  const { databaseUrl, wsRelayUrl } = settings;
  let key: Promise<CryptoKey> | undefined;
  return {
    maxPerTenant: settings.maxPerTenant,
    encryptionKey: () => {
      key ??= importDestinationKey(settings.encryptionKey);
      return key;
    },
    open: () => {
      if (databaseUrl === undefined) {
        throw new DependencyUnavailableError(
          "Destinations are not configured: set the DATABASE_URL secret (wrangler secret put DATABASE_URL, or .dev.vars) to the Postgres the delivery service reads.",
          { retryable: false },
        );
      }
      return new NeonDestinationStore({
        databaseUrl,
        ...(wsRelayUrl === undefined ? {} : { wsRelayUrl }),
      });
    },
  };
}

/**
 * Opens the request's DestinationStore (`c.var.destinations`) and ends it after the response:
 * Workers may not keep a connection between requests.
 */
export function useDestinationStore(): MiddlewareHandler<AppEnv> {
  return async function useDestinationStoreMiddleware(c, next) {
    const store = c.var.services.destinations.open();
    c.set("destinations", store);
    try {
      await next();
    } finally {
      waitUntil(
        c,
        store.close().catch(() => undefined),
      );
    }
  };
}
