/** ApiKeyStore on the `api_keys` table through the Neon Pool. */
import type { ApiKeyRole, ApiKeyStore, StoredApiKey } from "../api/api-key-store";
import type { Pool } from "./create-pool";
import { unavailable } from "./neon-metrics-store";

export class NeonApiKeyStore implements ApiKeyStore {
  constructor(private readonly pool: Pool) {}

  async findByHash(keyHashHex: string): Promise<StoredApiKey | undefined> {
    // The one query that runs before the tenant is known: the key names its tenant.
    const { rows } = await this.pool
      .query<{
        tenant_id: string;
        key_id: string;
        key_hash: string;
        roles: ApiKeyRole[];
        revoked: boolean;
      }>(
        // A future revoked_at is the end of a rotation's grace period: valid until then.
        `SELECT tenant_id, key_id, key_hash, roles, revoked_at IS NOT NULL AND revoked_at <= now() AS revoked
       FROM api_keys WHERE key_hash = $1`,
        [keyHashHex],
      )
      .catch((error: unknown) => {
        throw unavailable("check the API key", error);
      });
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      tenantId: row.tenant_id,
      keyId: row.key_id,
      keyHash: row.key_hash,
      roles: row.roles,
      revoked: row.revoked,
    };
  }
}
