// The outbound URL rules, as a table: what production refuses (and by which rule), what it
// accepts, and what a local run additionally accepts.
import { describe, expect, it } from "vitest";
import { checkWebhookUrl, type WebhookUrlRule } from "./webhook-url.ts";

const production = { allowLocal: false };
const local = { allowLocal: true };

const refused: [string, WebhookUrlRule][] = [
  ["not a url", "invalid-url"],
  ["/relative/path", "invalid-url"],
  [`https://example.com/${"a".repeat(2_100)}`, "too-long"],
  ["http://hooks.example.com/x", "https-only"],
  ["ftp://hooks.example.com/x", "https-only"],
  ["ws://hooks.example.com/x", "https-only"],
  ["https://user:pw@hooks.example.com/x", "no-credentials"],
  ["https://user@hooks.example.com/x", "no-credentials"],
  // Loopback, in every spelling the URL parser turns into 127.0.0.1 / ::1.
  ["https://127.0.0.1/x", "loopback"],
  ["https://127.1.2.3:8443/x", "loopback"],
  ["https://2130706433/x", "loopback"],
  ["https://0x7f000001/x", "loopback"],
  ["https://0x7f.0.0.1/x", "loopback"],
  ["https://0177.0.0.1/x", "loopback"],
  ["https://127.1/x", "loopback"],
  ["https://localhost/x", "loopback"],
  ["https://LOCALHOST./x", "loopback"],
  ["https://api.localhost/x", "loopback"],
  ["https://[::1]/x", "loopback"],
  ["https://[0:0:0:0:0:0:0:1]/x", "loopback"],
  // Private networks.
  ["https://10.0.0.1/x", "private-address"],
  ["https://012.0.0.1/x", "private-address"],
  ["https://167772161/x", "private-address"],
  ["https://172.16.0.1/x", "private-address"],
  ["https://172.31.255.255/x", "private-address"],
  ["https://192.168.1.10/x", "private-address"],
  ["https://0xc0a80001/x", "private-address"],
  ["https://[fc00::1]/x", "private-address"],
  ["https://[fd12:3456::1]/x", "private-address"],
  // Link-local, where metadata services answer.
  ["https://169.254.169.254/latest/meta-data/", "link-local"],
  ["https://0xa9fea9fe/x", "link-local"],
  ["https://[fe80::1]/x", "link-local"],
  ["https://[febf::1]/x", "link-local"],
  // Carrier-grade NAT, unspecified and reserved ranges.
  ["https://100.64.0.1/x", "shared-address"],
  ["https://100.127.255.254/x", "shared-address"],
  ["https://0.0.0.0/x", "reserved-address"],
  ["https://0/x", "reserved-address"],
  ["https://0.1.2.3/x", "reserved-address"],
  ["https://224.0.0.1/x", "reserved-address"],
  ["https://255.255.255.255/x", "reserved-address"],
  ["https://[::]/x", "reserved-address"],
  ["https://[ff02::1]/x", "reserved-address"],
  // IPv6 forms that carry an IPv4 address.
  ["https://[::ffff:127.0.0.1]/x", "ipv4-mapped-ipv6"],
  ["https://[::ffff:7f00:1]/x", "ipv4-mapped-ipv6"],
  ["https://[::ffff:8.8.8.8]/x", "ipv4-mapped-ipv6"],
  ["https://[::ffff:a9fe:a9fe]/x", "ipv4-mapped-ipv6"],
  ["https://[::10.0.0.1]/x", "ipv4-mapped-ipv6"],
  ["https://[64:ff9b::a9fe:a9fe]/x", "ipv4-mapped-ipv6"],
  // Names that are never public hosts.
  ["https://metadata.google.internal/computeMetadata/v1/", "internal-hostname"],
  ["https://metadata/x", "internal-hostname"],
  ["https://instance-data/x", "internal-hostname"],
  ["https://db.internal/x", "internal-hostname"],
  ["https://printer.local/x", "internal-hostname"],
  ["https://intranet/x", "internal-hostname"],
  ["https://kubernetes.default.svc/x", "internal-hostname"],
];

const accepted = [
  "https://hooks.example.com/driftline",
  "https://hooks.example.com:8443/driftline?team=ml",
  "https://8.8.8.8/x",
  "https://100.63.255.255/x",
  "https://100.128.0.1/x",
  "https://172.15.0.1/x",
  "https://172.32.0.1/x",
  "https://[2606:4700::1111]/x",
  "https://xn--bcher-kva.example/x",
];

describe("checkWebhookUrl in production", () => {
  it.each(refused)("refuses %s (%s)", (url, rule) => {
    const check = checkWebhookUrl(url, production);
    expect(check).toMatchObject({ ok: false, rule });
    if (!check.ok) expect(check.message).toContain(`rule: ${rule}`);
  });

  it.each(accepted)("accepts %s", (url) => {
    expect(checkWebhookUrl(url, production)).toMatchObject({ ok: true });
  });

  it("answers the URL as it will be fetched", () => {
    expect(checkWebhookUrl("https://Hooks.Example.com/a b", production)).toEqual({
      ok: true,
      url: "https://hooks.example.com/a%20b",
    });
  });
});

describe("checkWebhookUrl in a local run", () => {
  it.each([
    "http://127.0.0.1:9999/hook",
    "http://localhost:9999/hook",
    "http://[::1]:9999/hook",
    "http://hooks.example.com/x",
  ])("accepts %s", (url) => {
    expect(checkWebhookUrl(url, local)).toMatchObject({ ok: true });
  });

  it.each(refused.filter(([, rule]) => rule !== "loopback" && rule !== "https-only"))(
    "still refuses %s (%s)",
    (url, rule) => {
      expect(checkWebhookUrl(url, local)).toMatchObject({ ok: false, rule });
    },
  );

  it("still refuses schemes other than http(s)", () => {
    expect(checkWebhookUrl("ftp://127.0.0.1/x", local)).toMatchObject({ rule: "https-only" });
  });
});
