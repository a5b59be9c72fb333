/** The ApiKeyStore port: finds an API key by the SHA-256 of its secret. */

import type { Role } from "#core/api-keys";

export type ApiKeyRole = Role;

export interface StoredApiKey {
  tenantId: string;
  keyId: string;
  /** Lower-case hex SHA-256 of the key. */
  keyHash: string;
  roles: ApiKeyRole[];
  revoked: boolean;
}

export interface ApiKeyStore {
  findByHash(keyHashHex: string): Promise<StoredApiKey | undefined>;
}
