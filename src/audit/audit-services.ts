/** Builds the AuditServices from the Worker's configuration (Neon when DATABASE_URL is set) and the route middleware opening the log per request. */
import type { MiddlewareHandler } from "hono";
import { DependencyUnavailableError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";
import type { AuditLog, AuditServices } from "./audit-log";
import { NeonAuditLog } from "./neon-audit-log";

export interface AuditSettings {
  databaseUrl: string | undefined;
  wsRelayUrl: string | undefined;
}

export function auditServices(settings: AuditSettings): AuditServices {
  const { databaseUrl, wsRelayUrl } = settings;
  return {
    open: () => {
      if (databaseUrl === undefined) {
        return unconfiguredAuditLog;
      }
      return new NeonAuditLog({
        databaseUrl,
        ...(wsRelayUrl === undefined ? {} : { wsRelayUrl }),
        maxConnections: 1,
      });
    },
  };
}

const notConfigured = () =>
  new DependencyUnavailableError(
    "The audit log is not configured, so admin changes are refused: set the DATABASE_URL secret (wrangler secret put DATABASE_URL, or .dev.vars) to the Postgres that holds audit_log.",
    { retryable: false },
  );

/** Without a database no admin action can be audited, so every one is refused (never unaudited). */
const unconfiguredAuditLog: AuditLog = {
  append: () => Promise.reject(notConfigured()),
  list: () => Promise.reject(notConfigured()),
  close: () => Promise.resolve(),
};

/**
 * Opens the request's AuditLog (`c.var.audit`) and ends it after the response: Workers may not
 * keep a connection between requests. Put it after `requireKey("admin")`.
 *
 * @example
 * createRoute({ …, middleware: [requireKey("admin"), useAuditLog()] as const })
 */
export function useAuditLog(): MiddlewareHandler<AppEnv> {
  return async function useAuditLogMiddleware(c, next) {
    const log = c.var.services.audit.open();
    c.set("audit", log);
    try {
      await next();
    } finally {
      waitUntil(
        c,
        log.close().catch(() => undefined),
      );
    }
  };
}
