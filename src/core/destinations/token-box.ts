/**
 * Destination secrets at rest: AES-256-GCM (WebCrypto) under DESTINATION_ENCRYPTION_KEY, bound
 * to the destination's tenant and id, so the Worker that stores them and the delivery service
 * that uses them share one format and a sealed token copied into another row does not open.
 */
import { ConfigError } from "../errors.ts";
import { base64ToBytes, bytesToBase64 } from "../webhooks/base64.ts";

/** The development key of local runs and tests (bytes 32…63). Public: production refuses it. */
export const LOCAL_DESTINATION_ENCRYPTION_KEY = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface DestinationOwner {
  tenant: string;
  destinationId: string;
}

export type OpenedToken = { ok: true; token: string } | { ok: false; reason: string };

/** @throws ConfigError naming DESTINATION_ENCRYPTION_KEY and what it must hold */
export async function importDestinationKey(base64: string): Promise<CryptoKey> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = base64ToBytes(base64.trim());
  } catch {
    throw new ConfigError("DESTINATION_ENCRYPTION_KEY must be the base64 of 32 random bytes.");
  }
  if (raw.length !== 32) {
    throw new ConfigError(
      `DESTINATION_ENCRYPTION_KEY must hold 32 bytes (AES-256); it holds ${raw.length}.`,
    );
  }
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** What a sealed text is for: a token and a parked events payload never open as each other. */
type Purpose = "driftline-destination" | "driftline-destination-parked";

function aad(owner: DestinationOwner, purpose: Purpose): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${purpose}\u0000${owner.tenant}\u0000${owner.destinationId}`);
}

/** `v1.<iv>.<ciphertext+tag>` with a fresh random IV. */
export function sealDestinationToken(
  key: CryptoKey,
  token: string,
  owner: DestinationOwner,
): Promise<string> {
  return seal(key, token, owner, "driftline-destination");
}

export function openDestinationToken(
  key: CryptoKey,
  stored: string,
  owner: DestinationOwner,
): Promise<OpenedToken> {
  return open(key, stored, owner, "driftline-destination");
}

/**
 * Events a paused destination could not take yet, sealed like its token (they hold customer
 * information, the IP address and user agent) and bound to it; only the delivery service opens
 * them, to send them once the destination answers again.
 */
export function sealParkedEvents(
  key: CryptoKey,
  payload: string,
  owner: DestinationOwner,
): Promise<string> {
  return seal(key, payload, owner, "driftline-destination-parked");
}

export function openParkedEvents(
  key: CryptoKey,
  stored: string,
  owner: DestinationOwner,
): Promise<OpenedToken> {
  return open(key, stored, owner, "driftline-destination-parked");
}

async function seal(
  key: CryptoKey,
  token: string,
  owner: DestinationOwner,
  purpose: Purpose,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(owner, purpose), tagLength: TAG_BYTES * 8 },
    key,
    encoder.encode(token),
  );
  return `${VERSION}.${bytesToBase64(iv)}.${bytesToBase64(new Uint8Array(sealed))}`;
}

async function open(
  key: CryptoKey,
  stored: string,
  owner: DestinationOwner,
  purpose: Purpose,
): Promise<OpenedToken> {
  const [version, ivText, sealedText, ...rest] = stored.split(".");
  if (version !== VERSION || rest.length > 0 || ivText === undefined || sealedText === undefined) {
    return { ok: false, reason: "not a sealed destination token (expected v1.<iv>.<ciphertext>)" };
  }
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: base64ToBytes(ivText),
        additionalData: aad(owner, purpose),
        tagLength: TAG_BYTES * 8,
      },
      key,
      base64ToBytes(sealedText),
    );
    return { ok: true, token: decoder.decode(plain) };
  } catch {
    return {
      ok: false,
      reason:
        "the sealed token does not open: another DESTINATION_ENCRYPTION_KEY, another destination's row, or altered",
    };
  }
}
