/** The DestinationDirectory port: a tenant's live destinations, with their tokens opened, as the delivery service needs them. */
import type { MetaDestinationSettings } from "#core/destinations";

export interface LiveDestination {
  tenant: string;
  id: string;
  kind: "meta";
  settings: MetaDestinationSettings;
  /** The opened access token; lives in memory only. */
  token: string;
}

export interface DestinationDirectory {
  /**
   * The live destinations of each tenant asked for (a tenant without any maps to []); throws
   * when the store cannot be read (a retryable failure).
   */
  destinationsOf(tenants: readonly string[]): Promise<Map<string, LiveDestination[]>>;
}
