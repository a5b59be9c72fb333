/**
 * Console sessions: a signed cookie (HMAC-SHA-256, WebCrypto) standing for an API key, and the
 * CSRF token derived from it. The cookie holds the key's tenant, key id, roles, expiry and the
 * SHA-256 of the key (the key store's address, so revocation is re-checked), never the key itself.
 */
import type { Role } from "#core/api-keys";
import { ConfigError } from "#core/errors";

export const SESSION_COOKIE = "driftline_session";
export const CSRF_HEADER = "X-CSRF-Token";

export interface ConsoleSession {
  tenant: string;
  keyId: string;
  /** Hex SHA-256 of the API key; the key store is addressed by it. */
  keyHash: string;
  roles: readonly Role[];
  /** Epoch ms after which the cookie is refused. */
  expiresAtMs: number;
  /** Random per sign-in; the CSRF token is derived from it. */
  sessionId: string;
}

export interface ConsoleSessionsOptions {
  /** CONSOLE_SESSION_SECRET; without it only loopback hosts get sessions (per-isolate key). */
  secret: string | undefined;
  ttlMs: number;
  nowMs?: () => number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  let binary: string;
  try {
    binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** True for http(s)://127.0.0.1, localhost and [::1]: the local stack. */
export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname);
}

/** Issues and verifies session cookies; one instance per isolate (it caches the HMAC key). */
export class ConsoleSessions {
  private keyPromise: Promise<CryptoKey> | undefined;
  private readonly nowMs: () => number;

  constructor(private readonly options: ConsoleSessionsOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /**
   * The HMAC key. Without CONSOLE_SESSION_SECRET a random key per isolate serves loopback hosts
   * (sessions end when the isolate does, which `wrangler dev` tolerates); any other host is a
   * deployment, where sessions must survive isolates, so the secret is required there.
   */
  private hmacKey(url: URL): Promise<CryptoKey> {
    if (this.options.secret === undefined && !isLoopback(url)) {
      throw new ConfigError(
        "CONSOLE_SESSION_SECRET is not set: the console signs its session cookies with it (`wrangler secret put CONSOLE_SESSION_SECRET`, at least 32 random characters).",
      );
    }
    this.keyPromise ??= (async () => {
      const raw =
        this.options.secret === undefined
          ? crypto.getRandomValues(new Uint8Array(32))
          : encoder.encode(this.options.secret);
      return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
        "verify",
      ]);
    })();
    return this.keyPromise;
  }

  /** A new session for a verified key, and the cookie value carrying it. */
  async issue(
    url: URL,
    key: { tenant: string; keyId: string; keyHash: string; roles: readonly Role[] },
  ): Promise<{ session: ConsoleSession; cookieValue: string }> {
    const session: ConsoleSession = {
      tenant: key.tenant,
      keyId: key.keyId,
      keyHash: key.keyHash,
      roles: key.roles,
      expiresAtMs: this.nowMs() + this.options.ttlMs,
      sessionId: toBase64Url(crypto.getRandomValues(new Uint8Array(16))),
    };
    const payload = toBase64Url(encoder.encode(JSON.stringify(session)));
    const signature = await crypto.subtle.sign(
      "HMAC",
      await this.hmacKey(url),
      encoder.encode(`session.${payload}`),
    );
    return { session, cookieValue: `${payload}.${toBase64Url(new Uint8Array(signature))}` };
  }

  /** The session in a cookie value, or undefined when it is malformed, forged or expired. */
  async verify(url: URL, cookieValue: string): Promise<ConsoleSession | undefined> {
    const [payload, signature, extra] = cookieValue.split(".");
    if (payload === undefined || signature === undefined || extra !== undefined) return undefined;
    const signatureBytes = fromBase64Url(signature);
    const payloadBytes = fromBase64Url(payload);
    if (signatureBytes === undefined || payloadBytes === undefined) return undefined;
    // crypto.subtle.verify compares in constant time.
    const valid = await crypto.subtle.verify(
      "HMAC",
      await this.hmacKey(url),
      signatureBytes,
      encoder.encode(`session.${payload}`),
    );
    if (!valid) return undefined;
    let session: ConsoleSession;
    try {
      session = JSON.parse(decoder.decode(payloadBytes)) as ConsoleSession;
    } catch {
      return undefined;
    }
    if (typeof session.expiresAtMs !== "number" || session.expiresAtMs <= this.nowMs()) {
      return undefined;
    }
    return session;
  }

  /** The CSRF token of a session: HMAC of its id, so only the page that can read it has it. */
  async csrfToken(url: URL, session: ConsoleSession): Promise<string> {
    const mac = await crypto.subtle.sign(
      "HMAC",
      await this.hmacKey(url),
      encoder.encode(`csrf.${session.sessionId}`),
    );
    return toBase64Url(new Uint8Array(mac));
  }

  /** Whether `token` is the session's CSRF token (constant time through HMAC verify). */
  async checkCsrfToken(url: URL, session: ConsoleSession, token: string | undefined) {
    const bytes = token === undefined ? undefined : fromBase64Url(token);
    if (bytes === undefined || bytes.length !== 32) return false;
    return crypto.subtle.verify(
      "HMAC",
      await this.hmacKey(url),
      bytes,
      encoder.encode(`csrf.${session.sessionId}`),
    );
  }

  /** Set-Cookie for a session: HttpOnly, SameSite=Strict, Secure except over http on loopback. */
  cookie(url: URL, value: string, maxAgeSeconds: number): string {
    const secure = url.protocol === "https:" || !isLoopback(url);
    return [
      `${SESSION_COOKIE}=${value}`,
      "Path=/",
      `Max-Age=${maxAgeSeconds}`,
      "HttpOnly",
      "SameSite=Strict",
      ...(secure ? ["Secure"] : []),
    ].join("; ");
  }
}

/** The session cookie's value from a Cookie header, if present. */
export function readSessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}
