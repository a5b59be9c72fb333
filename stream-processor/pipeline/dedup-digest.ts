/** The fixed-size identity under which a counted record is remembered for deduplication. */
import { hash } from "node:crypto";

/**
 * The first 128 bits of SHA-256(tenant NUL eventName NUL eventId) over UTF-8, as 32 lower-case
 * hex digits (Postgres reads them as a uuid). The parts cannot contain NUL (the decoder refuses
 * it), so distinct identities hash distinct inputs; 128 bits of SHA-256 keep collisions, across
 * tenants too, out of reach even for chosen ids. Computed when a record is decoded, outside the
 * batch transaction, and used both for in-batch dedup and as the stored key. Must stay equal to
 * the expression in migrations/1795388000000_seen-events-hashed-keys.sql.
 */
export function dedupDigest(tenant: string, eventName: string, eventId: string): string {
  return hash("sha256", `${tenant}\u0000${eventName}\u0000${eventId}`).slice(0, 32);
}

/**
 * The digest of an event sent with a browser (publishable) key: its own namespace, so it can never
 * take the place of a server event's digest. The hashed text has a third NUL (server texts have
 * two, and no part holds NUL), so it cannot equal any server text.
 */
export function browserDedupDigest(tenant: string, eventName: string, eventId: string): string {
  return hash("sha256", `browser\u0000${tenant}\u0000${eventName}\u0000${eventId}`).slice(0, 32);
}
