/** The WebhookStore port: a tenant's webhook endpoints and their delivery log, as the routes use them. */
import type { WebhookDeliveryAttempt } from "#core/webhooks";
import type { TimeKey } from "../read-api/read-store";

/** A live endpoint; `secretSealed` never leaves the Worker (the secret is shown once, on create). */
export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  types: string[];
  createdAtMs: number;
  secretSealed: string;
}

export type CreateEndpointResult =
  | { kind: "created"; endpoint: WebhookEndpoint }
  | { kind: "limit-reached"; limit: number };

/** One attempt to deliver one event to one endpoint. */
export type DeliveryAttempt = WebhookDeliveryAttempt;

export interface DeliveryEntry extends DeliveryAttempt {
  key: TimeKey;
  id: string;
}

export interface DeliveryQuery {
  tenant: string;
  endpointId: string;
  /** Newest first: the page starts below this key. */
  before?: TimeKey;
  /** A store returns up to limit + 1 rows so the caller can tell there is more. */
  limit: number;
}

/** One request's view of the webhook tables; every method is scoped by tenant. */
export interface WebhookStore {
  /**
   * Inserts the endpoint unless the tenant already has `maxPerTenant` live ones. `beforeInsert`
   * runs once the cap is checked, just before the insert (the audit entry); if it throws, nothing
   * is inserted.
   */
  createEndpoint(
    endpoint: WebhookEndpoint,
    maxPerTenant: number,
    beforeInsert?: () => Promise<void>,
  ): Promise<CreateEndpointResult>;
  /** The tenant's live endpoints, oldest first. */
  listEndpoints(tenant: string): Promise<WebhookEndpoint[]>;
  getEndpoint(tenant: string, id: string): Promise<WebhookEndpoint | undefined>;
  /** Disables a live endpoint; false when the tenant has no such live endpoint. */
  disableEndpoint(tenant: string, id: string): Promise<boolean>;
  listDeliveries(q: DeliveryQuery): Promise<DeliveryEntry[]>;
  recordDelivery(attempt: DeliveryAttempt): Promise<DeliveryEntry>;
  close(): Promise<void>;
}

/** What the services bundle holds for the webhook routes. */
export interface WebhookServices {
  open(): WebhookStore;
  /** The AES-256-GCM key sealing endpoint secrets (WEBHOOK_ENCRYPTION_KEY), imported once. */
  encryptionKey(): Promise<CryptoKey>;
  maxEndpointsPerTenant: number;
  /** How long a test delivery waits for the receiver, ms. */
  testTimeoutMs: number;
  /** Outside production: http and loopback URLs are accepted (local receivers). */
  allowLocalUrls: boolean;
  /** Outbound HTTP (the runtime's fetch; tests may hand in their own). */
  fetch: typeof fetch;
  /**
   * Resolves an endpoint's hostname before a test send, so its addresses are checked by the
   * rules deliveries apply (WEBHOOK_DNS_RESOLVER_URL); undefined: hostnames are not resolved.
   */
  resolver: HostResolver | undefined;
}

export type HostResolution = { ok: true; addresses: string[] } | { ok: false; message: string };

/** Every address a hostname resolves to (IPv4 and IPv6), or why it did not resolve. */
export interface HostResolver {
  resolveAll(hostname: string): Promise<HostResolution>;
}
