/** Counts a request's events (or scored rows) and body bytes against its key's per-window budgets. */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { budgetExceeded, waitUntil } from "./require-key";

export interface RequestUsage {
  /** Events sent, valid or not (or rows scored). */
  events: number;
  /** Body bytes; left out where only events count. */
  bytes?: number;
}

/**
 * Run after `requireKey` (which counted the request) once the body tells the usage. Both budgets
 * are charged at once (one Redis round trip at most, in parallel); the first one used up answers
 * 429 naming it, with Retry-After. A refused request's units stay counted in the other budget too.
 *
 * @example
 * const { body, eventCount } = await readEventsBody(c.req, "web");
 * await chargeBudgets(c, { events: eventCount, bytes: await requestBytes(c) });
 */
export async function chargeBudgets(c: Context<AppEnv>, usage: RequestUsage): Promise<void> {
  const { budgets } = c.var.services;
  const { keyId } = c.var.auth;
  const defer = (p: Promise<unknown>) => waitUntil(c, p);
  const [events, bytes] = await Promise.all([
    usage.events > 0 ? budgets.events.limit(keyId, defer, usage.events) : undefined,
    usage.bytes !== undefined && usage.bytes > 0
      ? budgets.bytes.limit(keyId, defer, usage.bytes)
      : undefined,
  ]);
  if (events !== undefined && !events.allowed) throw budgetExceeded("events", keyId, events);
  if (bytes !== undefined && !bytes.allowed) throw budgetExceeded("bytes", keyId, bytes);
}

/** The body's size: Content-Length when the client sent one, else the bytes read. */
export async function requestBytes(c: Context<AppEnv>): Promise<number> {
  const declared = Number(c.req.header("content-length"));
  if (Number.isSafeInteger(declared) && declared >= 0) return declared;
  // Hono keeps the body it already read (text or form) and re-encodes it here.
  return (await c.req.arrayBuffer()).byteLength;
}
