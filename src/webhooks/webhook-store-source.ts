/** Builds the WebhookServices from the Worker's configuration: Neon when DATABASE_URL is set. */
import { DependencyUnavailableError } from "#core/errors";
import { importWebhookEncryptionKey } from "#core/webhooks";
import { NeonWebhookStore } from "./neon-webhook-store";
import type { WebhookServices } from "./webhook-store";

export interface WebhookSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
  encryptionKey: string;
  maxEndpointsPerTenant: number;
  testTimeoutMs: number;
  allowLocalUrls: boolean;
}

export function webhookServices(settings: WebhookSettings): WebhookServices {
  const { databaseUrl, wsRelayUrl } = settings;
  let key: Promise<CryptoKey> | undefined;
  return {
    maxEndpointsPerTenant: settings.maxEndpointsPerTenant,
    testTimeoutMs: settings.testTimeoutMs,
    allowLocalUrls: settings.allowLocalUrls,
    fetch: (input, init) => fetch(input, init),
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
