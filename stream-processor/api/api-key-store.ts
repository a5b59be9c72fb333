/** The ApiKeyStore port: finds an API key by the SHA-256 of its secret. */

export type ApiKeyRole = "ingest" | "score" | "admin";

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
