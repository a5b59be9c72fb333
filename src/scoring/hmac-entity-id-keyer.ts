/** EntityIdKeyer with HMAC-SHA-256: a scored entity's id leaves the edge only keyed. */
import { _HMAC } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hexOf } from "#core/events";
import type { EntityIdKeyer } from "./scoring-ports";

const encoder = new TextEncoder();

/**
 * `hex(HMAC-SHA-256(secret, tenant ∖0 entityId))`: stable for one tenant and secret, so the
 * stored predictions of one entity still group together, but neither reversible nor linkable
 * across tenants without the secret. The same value as the core's `keyEntityId` (#core/privacy),
 * with which an erasure finds the entity's predictions again; a test holds the two equal.
 *
 * @noble/hashes (audited, already the event hashing's) rather than WebCrypto: in workerd a
 * `crypto.subtle.sign` per scored row (a promise, an ArrayBuffer, hex built byte by byte) was
 * about a sixth of a single-row score request's isolate time. The keyed state (the inner and
 * outer pads, one compression each) is made once per isolate and cloned per call into one
 * reused instance; safe because `key` does its work synchronously.
 */
export class HmacEntityIdKeyer implements EntityIdKeyer {
  private readonly keyed: _HMAC<ReturnType<typeof sha256.create>>;
  private readonly work: _HMAC<ReturnType<typeof sha256.create>>;
  private readonly mac = new Uint8Array(32);

  constructor(secret: string) {
    this.keyed = new _HMAC(sha256, encoder.encode(secret));
    this.work = this.keyed.clone();
  }

  async key(tenant: string, entityId: string): Promise<string> {
    this.keyed._cloneInto(this.work);
    this.work.update(encoder.encode(`${tenant}\u0000${entityId}`));
    this.work.digestInto(this.mac);
    return hexOf(this.mac);
  }
}
