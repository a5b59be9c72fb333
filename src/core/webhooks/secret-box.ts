/**
 * Webhook secrets at rest: AES-256-GCM (WebCrypto) under WEBHOOK_ENCRYPTION_KEY, bound to the
 * endpoint's tenant and id, so the Worker that stores them and the stream processor that signs
 * with them share one format.
 */
import { ConfigError } from "../errors.ts";
import { base64ToBytes, bytesToBase64 } from "./base64.ts";

/**
 * The development key of local runs and tests (base64 of the bytes 0, 1, …, 31). It is public:
 * production mode refuses it, and anything encrypted under it is readable by anyone.
 */
export const LOCAL_WEBHOOK_ENCRYPTION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/** Stored form: version, 12-byte IV and ciphertext with its 16-byte tag, each base64. */
const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where a stored secret belongs; authenticated with it, so a copy pasted into another row fails. */
export interface SecretOwner {
  tenant: string;
  endpointId: string;
}

/** The outcome of opening a stored secret: the plaintext, or why it cannot be trusted. */
export type OpenedSecret = { ok: true; secret: string } | { ok: false; reason: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Imports the base64 of 32 bytes as an AES-256-GCM key (non-extractable).
 * @throws ConfigError naming WEBHOOK_ENCRYPTION_KEY and what it must hold
 */
export async function importWebhookEncryptionKey(base64: string): Promise<CryptoKey> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = base64ToBytes(base64.trim());
  } catch {
    throw new ConfigError("WEBHOOK_ENCRYPTION_KEY must be the base64 of 32 random bytes.");
  }
  if (raw.length !== 32) {
    throw new ConfigError(
      `WEBHOOK_ENCRYPTION_KEY must hold 32 bytes (AES-256); it holds ${raw.length}.`,
    );
  }
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** Additional authenticated data: NUL cannot occur in a tenant id, so the pair is unambiguous. */
function aad(owner: SecretOwner): Uint8Array<ArrayBuffer> {
  return encoder.encode(`driftline-webhook-secret\u0000${owner.tenant}\u0000${owner.endpointId}`);
}

/** `v1.<iv>.<ciphertext+tag>`; a fresh random IV each time (never reused under one key). */
export async function sealWebhookSecret(
  key: CryptoKey,
  secret: string,
  owner: SecretOwner,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(owner), tagLength: TAG_BYTES * 8 },
    key,
    encoder.encode(secret),
  );
  return `${VERSION}.${bytesToBase64(iv)}.${bytesToBase64(new Uint8Array(sealed))}`;
}

/**
 * The plaintext of a sealed secret, when it was sealed under this key for this owner and has not
 * been altered; otherwise why not (a value, so a caller can skip one endpoint and go on).
 */
export async function openWebhookSecret(
  key: CryptoKey,
  stored: string,
  owner: SecretOwner,
): Promise<OpenedSecret> {
  const parts = stored.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) {
    return { ok: false, reason: "not a sealed webhook secret (expected v1.<iv>.<ciphertext>)" };
  }
  let iv: Uint8Array<ArrayBuffer>;
  let sealed: Uint8Array<ArrayBuffer>;
  try {
    iv = base64ToBytes(parts[1] ?? "");
    sealed = base64ToBytes(parts[2] ?? "");
  } catch {
    return { ok: false, reason: "the sealed secret is not base64" };
  }
  if (iv.length !== IV_BYTES || sealed.length <= TAG_BYTES) {
    return { ok: false, reason: "the sealed secret has the wrong length" };
  }
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: aad(owner), tagLength: TAG_BYTES * 8 },
      key,
      sealed,
    );
    return { ok: true, secret: decoder.decode(plain) };
  } catch {
    return {
      ok: false,
      reason:
        "the sealed secret does not authenticate: another WEBHOOK_ENCRYPTION_KEY, another endpoint's row, or altered",
    };
  }
}
