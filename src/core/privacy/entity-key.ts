/** The keyed form of a score's entityId: `hex(HMAC-SHA-256(ENTITY_ID_KEY, tenant ∖0 entityId))`. */

const encoder = new TextEncoder();

/** The key local runs use when ENTITY_ID_KEY is not set (the Worker refuses it in production). */
export const LOCAL_ENTITY_ID_KEY = "driftline-local-entity-id-key";

/** Imports ENTITY_ID_KEY for `keyEntityId` (WebCrypto: the Worker and Node alike). */
export function importEntityIdKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/**
 * Stable for one tenant and secret, so the stored predictions of one entity still group together
 * (and an erasure finds them), but neither reversible nor linkable across tenants without the
 * secret.
 */
export async function keyEntityId(
  key: CryptoKey,
  tenant: string,
  entityId: string,
): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${tenant}\u0000${entityId}`));
  let hex = "";
  for (const byte of new Uint8Array(mac)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
