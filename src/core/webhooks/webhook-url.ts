/**
 * Which URLs a tenant may register as a webhook endpoint: public https hosts only, so a delivery
 * (made by Driftline's own servers) cannot be aimed at Driftline's network, a cloud metadata
 * service or the machine itself. Checked on the URL as WHATWG parses it, which is what `fetch`
 * connects to (decimal, octal and hex IPv4 forms are already dotted quads there).
 */

/** The rule a refused URL broke; named in the 400. */
export type WebhookUrlRule =
  | "invalid-url"
  | "too-long"
  | "https-only"
  | "no-credentials"
  | "loopback"
  | "private-address"
  | "link-local"
  | "shared-address"
  | "reserved-address"
  | "ipv4-mapped-ipv6"
  | "internal-hostname";

export type WebhookUrlCheck =
  | { ok: true; url: string }
  | { ok: false; rule: WebhookUrlRule; message: string };

export interface WebhookUrlPolicy {
  /**
   * Local runs (not production): plain http and loopback hosts are accepted, so tests and demos
   * can deliver to a receiver on the same machine. Every other rule still holds.
   */
  allowLocal: boolean;
}

export const WEBHOOK_URL_MAX_LENGTH = 2_048;

/** Hostnames of cloud instance-metadata services and similar internal names. */
const INTERNAL_HOSTNAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "metadata.azure.com",
  "instance-data",
  "instance-data.ec2.internal",
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
]);
/** Suffixes that never name a public host (RFC 6761, RFC 6762, and cloud-internal zones). */
const INTERNAL_SUFFIXES = [
  ".internal",
  ".local",
  ".localdomain",
  ".home.arpa",
  ".svc",
  ".cluster.local",
];

const refuse = (rule: WebhookUrlRule, message: string): WebhookUrlCheck => ({
  ok: false,
  rule,
  message: `${message} (rule: ${rule})`,
});

/** Checks a URL a tenant asks deliveries to go to; the answer names the rule it broke. */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): WebhookUrlCheck {
  if (raw.length > WEBHOOK_URL_MAX_LENGTH) {
    return refuse("too-long", `The URL is longer than ${WEBHOOK_URL_MAX_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("invalid-url", "The URL is not an absolute URL");
  }
  if (url.protocol !== "https:" && !(policy.allowLocal && url.protocol === "http:")) {
    return refuse(
      "https-only",
      policy.allowLocal
        ? "Webhook URLs must be http(s) URLs"
        : "Webhook URLs must be https:// URLs: deliveries carry signed alert data",
    );
  }
  if (url.username !== "" || url.password !== "") {
    return refuse(
      "no-credentials",
      "Webhook URLs must not carry credentials (user:password@); verify deliveries by their signature instead",
    );
  }
  // A trailing dot names the same host ("localhost." is localhost).
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const hostProblem = host.startsWith("[") ? ipv6Problem(host.slice(1, -1)) : hostnameProblem(host);
  if (hostProblem === undefined) return { ok: true, url: url.href };
  if (hostProblem.rule === "loopback" && policy.allowLocal) return { ok: true, url: url.href };
  return refuse(hostProblem.rule, hostProblem.message);
}

/**
 * Checks an address a webhook's hostname resolved to, when a delivery connects: a hostname that
 * passed `checkWebhookUrl` may later resolve to a loopback, private or metadata address (DNS
 * rebinding), so the address actually connected to is checked by the same rules.
 *
 * @param address an IPv4 dotted quad or an IPv6 address as the resolver answers it
 */
export function checkResolvedAddress(
  address: string,
  policy: WebhookUrlPolicy,
): { ok: true } | { ok: false; rule: WebhookUrlRule; message: string } {
  const v4 = parseDottedQuad(address);
  const problem =
    v4 !== undefined
      ? ipv4Problem(v4, address)
      : ipv6Problem(address.toLowerCase().replace(/%.*$/, ""));
  if (problem === undefined) return { ok: true };
  if (problem.rule === "loopback" && policy.allowLocal) return { ok: true };
  return { ok: false, rule: problem.rule, message: `${problem.message} (rule: ${problem.rule})` };
}

type Problem = { rule: WebhookUrlRule; message: string } | undefined;

function hostnameProblem(host: string): Problem {
  const v4 = parseDottedQuad(host);
  if (v4 !== undefined) return ipv4Problem(v4, host);
  if (host === "localhost" || host.endsWith(".localhost")) {
    return { rule: "loopback", message: `${host} is this machine` };
  }
  if (
    INTERNAL_HOSTNAMES.has(host) ||
    INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix)) ||
    !host.includes(".")
  ) {
    return {
      rule: "internal-hostname",
      message: `${host} is not a public hostname (internal, metadata or single-label names are refused)`,
    };
  }
  return undefined;
}

function parseDottedQuad(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

/** The IPv4 ranges a delivery must never reach (RFC 6890 special-purpose, minus the global ones). */
function ipv4Problem([a, b, c]: number[], shown: string): Problem {
  const A = a ?? 0;
  const B = b ?? 0;
  if (A === 127) return { rule: "loopback", message: `${shown} is a loopback address` };
  if (A === 10 || (A === 172 && B >= 16 && B <= 31) || (A === 192 && B === 168)) {
    return { rule: "private-address", message: `${shown} is a private (RFC 1918) address` };
  }
  if (A === 169 && B === 254) {
    return {
      rule: "link-local",
      message: `${shown} is a link-local address (where cloud metadata services answer)`,
    };
  }
  if (A === 100 && B >= 64 && B <= 127) {
    return {
      rule: "shared-address",
      message: `${shown} is a carrier-grade NAT (100.64/10) address`,
    };
  }
  if (
    A === 0 ||
    A >= 224 ||
    (A === 192 && B === 0 && (c ?? 0) === 0) ||
    (A === 198 && (B === 18 || B === 19))
  ) {
    return {
      rule: "reserved-address",
      message: `${shown} is a reserved, multicast or unspecified address`,
    };
  }
  return undefined;
}

/** Eight 16-bit groups of an IPv6 literal as WHATWG serialises it (compressed, lower case, no zone). */
function parseIpv6(text: string): number[] | undefined {
  let head = text;
  let tail = "";
  const gap = text.indexOf("::");
  if (gap >= 0) {
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const part of s.split(":")) {
      const v4 = parseDottedQuad(part);
      if (v4 !== undefined) {
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else if (/^[0-9a-f]{1,4}$/.test(part)) {
        out.push(Number.parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  if (h === undefined || t === undefined) return undefined;
  if (gap < 0) return h.length === 8 ? h : undefined;
  const zeros = 8 - h.length - t.length;
  return zeros < 1 ? undefined : [...h, ...new Array<number>(zeros).fill(0), ...t];
}

function ipv6Problem(literal: string): Problem {
  const g = parseIpv6(literal);
  if (g === undefined)
    return { rule: "invalid-url", message: `[${literal}] is not an IPv6 address` };
  const shown = `[${literal}]`;
  const first = g[0] ?? 0;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7) && g[7] === 1)
    return { rule: "loopback", message: `${shown} is the loopback address` };
  if (zeroUpTo(8))
    return { rule: "reserved-address", message: `${shown} is the unspecified address` };
  if (zeroUpTo(5) && g[5] === 0xffff) {
    return {
      rule: "ipv4-mapped-ipv6",
      message: `${shown} is an IPv4-mapped IPv6 address; use the IPv4 address or a hostname`,
    };
  }
  // ::/96 (IPv4-compatible, deprecated) and 64:ff9b::/96 (NAT64) also embed an IPv4 address.
  if (zeroUpTo(6) || (first === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0))) {
    return {
      rule: "ipv4-mapped-ipv6",
      message: `${shown} embeds an IPv4 address; use the IPv4 address or a hostname`,
    };
  }
  if ((first & 0xfe00) === 0xfc00) {
    return { rule: "private-address", message: `${shown} is a unique local (fc00::/7) address` };
  }
  if ((first & 0xffc0) === 0xfe80) {
    return { rule: "link-local", message: `${shown} is a link-local (fe80::/10) address` };
  }
  if ((first & 0xffc0) === 0xfec0 || (first & 0xff00) === 0xff00) {
    return { rule: "reserved-address", message: `${shown} is a site-local or multicast address` };
  }
  return undefined;
}
