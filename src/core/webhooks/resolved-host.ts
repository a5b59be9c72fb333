/**
 * The check every webhook send makes on the addresses a hostname resolves to (the stream
 * processor's deliveries and the Worker's test send), and the reading of a DNS-over-HTTPS JSON
 * answer for runtimes that resolve through one (the Worker: workerd has no DNS API).
 */
import { checkResolvedAddress, type WebhookUrlPolicy } from "./webhook-url.ts";

export type ResolvedHostCheck =
  | { ok: true }
  | { ok: false; address: string | undefined; message: string };

/**
 * Refuses the hostname when any address it resolves to breaks the URL rules (its owner controls
 * the whole record set, so one forbidden address is enough), or when it resolves to none.
 */
export function checkResolvedHost(
  hostname: string,
  addresses: readonly string[],
  policy: WebhookUrlPolicy,
): ResolvedHostCheck {
  for (const address of addresses) {
    const check = checkResolvedAddress(address, policy);
    if (!check.ok) {
      return {
        ok: false,
        address,
        message: `${hostname} resolved to a refused address: ${check.message}`,
      };
    }
  }
  if (addresses.length === 0) {
    return { ok: false, address: undefined, message: `${hostname} resolved to no address` };
  }
  return { ok: true };
}

/** DNS record types a webhook hostname is resolved to. */
export const DNS_TYPE = { A: 1, AAAA: 28 } as const;

/** DNS response codes (RFC 1035, 2136) a resolver may answer, by number. */
const RCODES: Record<number, string> = {
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
};

export type DnsJsonAnswer = { ok: true; addresses: string[] } | { ok: false; message: string };

/**
 * Reads the addresses of one type from a DNS JSON answer (`application/dns-json`, as Cloudflare's
 * and Google's DNS-over-HTTPS endpoints answer): `Status` 0 with `Answer` records, whose CNAME
 * steps are skipped. NXDOMAIN and other failures are values with the code's name.
 */
export function readDnsJsonAnswer(
  body: unknown,
  type: (typeof DNS_TYPE)[keyof typeof DNS_TYPE],
): DnsJsonAnswer {
  if (typeof body !== "object" || body === null) {
    return { ok: false, message: "the resolver's answer is not a DNS JSON object" };
  }
  const { Status: status, Answer: answer } = body as { Status?: unknown; Answer?: unknown };
  if (typeof status !== "number") {
    return { ok: false, message: "the resolver's answer has no Status" };
  }
  if (status !== 0) {
    return { ok: false, message: `the resolver answered ${RCODES[status] ?? `rcode ${status}`}` };
  }
  const addresses: string[] = [];
  for (const record of Array.isArray(answer) ? answer : []) {
    const { type: t, data } = (record ?? {}) as { type?: unknown; data?: unknown };
    if (t === type && typeof data === "string") addresses.push(data);
  }
  return { ok: true, addresses };
}
