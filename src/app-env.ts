/** The Hono environment shared by every route: the services a request may use and its request id. */
import type { AuditLog } from "./audit/audit-log";
import type { AuthContext } from "./auth/auth-ports";
import type { DestinationStore } from "./destinations/destination-store";
import type { ReadStore } from "./read-api/read-store";
import type { Services } from "./services";
import type { WebhookStore } from "./webhooks/webhook-store";

export interface AppEnv {
  Variables: {
    requestId: string;
    services: Services;
    /** Set by `requireKey` on authenticated routes. */
    auth: AuthContext;
    /** Set by `useReadStore` on read routes; ended with the request. */
    reads: ReadStore;
    /** Set by `useWebhookStore` on webhook routes; ended with the request. */
    webhooks: WebhookStore;
    /** Set by `useDestinationStore` on destination routes; ended with the request. */
    destinations: DestinationStore;
    /** Set by `useAuditLog` on admin routes; ended with the request. */
    audit: AuditLog;
  };
}
