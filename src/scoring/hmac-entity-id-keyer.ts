/** EntityIdKeyer with HMAC-SHA-256 (WebCrypto): a scored entity's id leaves the edge only keyed. */
import { importEntityIdKey, keyEntityId } from "#core/privacy";
import type { EntityIdKeyer } from "./scoring-ports";

/**
 * `hex(HMAC-SHA-256(secret, tenant ∖0 entityId))` (`keyEntityId` in the core, which an erasure
 * uses to find the entity's predictions again). The CryptoKey is imported once per isolate.
 */
export class HmacEntityIdKeyer implements EntityIdKeyer {
  private readonly cryptoKey: Promise<CryptoKey>;

  constructor(secret: string) {
    this.cryptoKey = importEntityIdKey(secret);
  }

  async key(tenant: string, entityId: string): Promise<string> {
    return keyEntityId(await this.cryptoKey, tenant, entityId);
  }
}
