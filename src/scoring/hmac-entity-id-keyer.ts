/** EntityIdKeyer with HMAC-SHA-256 (WebCrypto): a scored entity's id leaves the edge only keyed. */
import type { EntityIdKeyer } from "./scoring-ports";

const encoder = new TextEncoder();

/**
 * `hex(HMAC-SHA-256(secret, tenant ∖0 entityId))`: stable for one tenant and secret, so the
 * stored predictions of one entity still group together, but neither reversible nor linkable
 * across tenants without the secret. The CryptoKey is imported once per isolate.
 */
export class HmacEntityIdKeyer implements EntityIdKeyer {
  private readonly cryptoKey: Promise<CryptoKey>;

  constructor(secret: string) {
    this.cryptoKey = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }

  async key(tenant: string, entityId: string): Promise<string> {
    const mac = await crypto.subtle.sign(
      "HMAC",
      await this.cryptoKey,
      encoder.encode(`${tenant}\u0000${entityId}`),
    );
    let hex = "";
    for (const byte of new Uint8Array(mac)) hex += byte.toString(16).padStart(2, "0");
    return hex;
  }
}
