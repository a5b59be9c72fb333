/**
 * The service bundle the HTTP routes take: one port per capability, each declared beside its
 * adapters (auth/, model-registry/, scoring/, ingest/, health/). The composition root
 * (worker.ts) builds it; tests pass fakes.
 */

import type { DefaultRateLimits } from "#core/api-keys";
import type { AuditServices } from "./audit/audit-log";
import type {
  ApiKeyStore,
  AuthFailureLimiter,
  RateLimiter,
  TenantOriginStore,
  UsageBudgets,
} from "./auth/auth-ports";
import type { ConsoleSessions } from "./auth/console-sessions";
import type { ConsoleAssets } from "./console/console-assets-port";
import type { DestinationServices } from "./destinations/destination-store";
import type { Readiness } from "./health/readiness";
import type { IngestServices } from "./ingest/ingest-ports";
import type { KeyAdminStore } from "./keys/key-admin-store";
import type { ModelRegistry } from "./model-registry/model-registry";
import type { Logger } from "./observability/logger";
import type { PersonErasureServices } from "./privacy/person-erasure-store";
import type { ReadStoreSource } from "./read-api/read-store";
import type { EntityIdKeyer, PredictionLog } from "./scoring/scoring-ports";
import type { WebhookServices } from "./webhooks/webhook-store";

export interface Services {
  readiness: Readiness;
  apiKeys: ApiKeyStore;
  /** Failed authentications per client address, per isolate. */
  authFailures: AuthFailureLimiter;
  rateLimiter: RateLimiter;
  /** A tenant's keys by id: their request limits and rotation (admin routes). */
  keyAdmin: KeyAdminStore;
  /** Request limits of keys that carry none of their own (per role). */
  requestLimits: DefaultRateLimits;
  budgets: UsageBudgets;
  tenantOrigins: TenantOriginStore;
  models: ModelRegistry;
  predictionLog: PredictionLog;
  /** Top reasons each logged prediction carries (PREDICTION_LOG_REASONS; 0: none). */
  predictionLogReasons: number;
  /** Keys entity ids before predictions leave the edge. */
  entityIds: EntityIdKeyer;
  /** Event ingestion: dedup store, queue sink and limits (POST /v1/events, /v1/capi/…). */
  ingest: IngestServices;
  /** The read API's Postgres: a store opened per request (read-api/use-read-store). */
  reads: ReadStoreSource;
  /** Tenant webhook endpoints: their store (opened per request), secret key and URL rules. */
  webhooks: WebhookServices;
  /** Forwarding destinations: their store (opened per request) and the token sealing key. */
  destinations: DestinationServices;
  /** The append-only audit log of admin actions (opened per request on admin routes). */
  audit: AuditServices;
  /** Erasure of one person: their rows in Postgres (opened per request), parked dead letters. */
  erasures: PersonErasureServices;
  /** Current time; injected so tests can fix it. */
  now(): Date;
  /** Uniform [0, 1) for challenger routing of rows without an entity id. */
  random(): number;
  /** Console session cookies and their CSRF tokens (/dashboard, and reads with a session). */
  sessions: ConsoleSessions;
  /** The console's bundled front end; the composition root hands it in. */
  consoleAssets: ConsoleAssets;
  /** The Worker's levelled JSON logger (LOG_LEVEL). */
  log: Logger;
}
