/** Builds the WebhookServices from the Worker's configuration: Neon when DATABASE_URL is set. */
import { DependencyUnavailableError } from "#core/errors";
import { importWebhookEncryptionKey } from "#core/webhooks";
import { DohHostResolver } from "./doh-host-resolver";
import { NeonWebhookStore } from "./neon-webhook-store";
import type { WebhookServices } from "./webhook-store";

export interface WebhookSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
  encryptionKey: string;
  maxEndpointsPerTenant: number;
  testTimeoutMs: number;
  allowLocalUrls: boolean;
  /** DNS-over-HTTPS JSON endpoint test sends resolve hostnames through; undefined: none. */
  dnsResolverUrl: string | undefined;
}

export function webhookServices(settings: WebhookSettings): WebhookServices {
  const { databaseUrl, wsRelayUrl } = settings;
  let key: Promise<CryptoKey> | undefined;
  return {
    maxEndpointsPerTenant: settings.maxEndpointsPerTenant,
    testTimeoutMs: settings.testTimeoutMs,
    allowLocalUrls: settings.allowLocalUrls,
    fetch: (input, init) => fetch(input, init),
    resolver:
      settings.dnsResolverUrl === undefined
        ? undefined
        : new DohHostResolver({
            endpoint: settings.dnsResolverUrl,
            timeoutMs: settings.testTimeoutMs,
            fetch: (input, init) => fetch(input, init),
          }),
    encryptionKey: () => {
      key ??= importWebhookEncryptionKey(settings.encryptionKey);
      return key;
    },
    open: () => {
      if (databaseUrl === undefined) {
        throw new DependencyUnavailableError(
          "Webhooks are not configured: set the DATABASE_URL secret (wrangler secret put DATABASE_URL, or .dev.vars) to the Postgres the stream processor writes.",
          { retryable: false },
        );
      }
      return new NeonWebhookStore({
        databaseUrl,
        ...(wsRelayUrl === undefined ? {} : { wsRelayUrl }),
      });
    },
  };
}
