/** Route middleware: opens the request's ReadStore (`c.var.reads`) and ends it with the request. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";

/**
 * Workers may not keep a connection between requests, so each request opens its own pool and
 * ends it once the response is built; the end runs after the response (waitUntil).
 *
 * @example
 * createRoute({ …, middleware: [requireKey("read"), useReadStore()] as const })
 */
export function useReadStore(): MiddlewareHandler<AppEnv> {
  return async function useReadStoreMiddleware(c, next) {
    const store = c.var.services.reads.open();
    c.set("reads", store);
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
