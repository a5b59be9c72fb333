/** The DestinationStore port: a tenant's destinations and their delivery statistics, as the routes use them. */
import type { DestinationKind, MetaDestinationSettings } from "#core/destinations";

export interface StoredDestination {
  id: string;
  tenant: string;
  kind: DestinationKind;
  name: string | null;
  settings: MetaDestinationSettings;
  /** v1.<iv>.<ciphertext>; never leaves the Worker. */
  secretSealed: string;
  tokenHint: string;
  createdAtMs: number;
}

/** Delivery statistics of one destination over a time range (from `destination_batches`). */
export interface DestinationStats {
  batches: number;
  delivered: { batches: number; events: number; eventsReceived: number };
  deadLettered: { batches: number; events: number };
  /** Transient failures retried before the final answers. */
  retries: number;
  lastDeliveredAt: string | null;
  lastError: { at: string; error: string; fbtraceId: string | null } | null;
  /** The newest requests' answers, newest first (at most 20). */
  recent: {
    at: string;
    status: "delivered" | "dead-lettered";
    events: number;
    attempts: number;
    httpStatus: number | null;
    eventsReceived: number | null;
    fbtraceId: string | null;
    messages: string[];
    error: string | null;
  }[];
}

export type CreateDestinationResult =
  | { kind: "created"; destination: StoredDestination }
  | { kind: "limit-reached"; limit: number };

/** One request's view of the destination tables; every method is scoped by tenant. */
export interface DestinationStore {
  /** `beforeInsert` runs once the cap is checked, just before the insert (the audit entry). */
  create(
    destination: StoredDestination,
    maxPerTenant: number,
    beforeInsert?: () => Promise<void>,
  ): Promise<CreateDestinationResult>;
  list(tenant: string): Promise<StoredDestination[]>;
  /** Stops forwarding to it; false when the tenant has no such live destination. */
  disable(tenant: string, id: string): Promise<boolean>;
  /** undefined when the tenant has no such destination (live or not). */
  stats(
    tenant: string,
    id: string,
    fromMs: number,
    toMs: number,
  ): Promise<DestinationStats | undefined>;
  close(): Promise<void>;
}

export interface DestinationServices {
  open(): DestinationStore;
  /** AES-256-GCM key sealing destination tokens (DESTINATION_ENCRYPTION_KEY), imported once. */
  encryptionKey(): Promise<CryptoKey>;
  maxPerTenant: number;
}
