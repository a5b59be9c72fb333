/** Route middleware: opens the request's WebhookStore (`c.var.webhooks`) and ends it with the request. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";

/**
 * Like `useReadStore`: Workers may not keep a connection between requests, so each request opens
 * its own pool and ends it after the response.
 *
 * @example
 * createRoute({ …, middleware: [requireKey("admin"), useWebhookStore()] as const })
 */
export function useWebhookStore(): MiddlewareHandler<AppEnv> {
  return async function useWebhookStoreMiddleware(c, next) {
    const store = c.var.services.webhooks.open();
    c.set("webhooks", store);
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
