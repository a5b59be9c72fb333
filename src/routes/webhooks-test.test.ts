/**
 * The test send checks the addresses an endpoint's hostname resolves to, as deliveries do: in
 * production a hostname resolving to a private, loopback or metadata address is refused before
 * anything is sent. Through the app, with the DNS-over-HTTPS resolver asking a DNS JSON server on
 * 127.0.0.1 (the records each test sets), and a recording fetch in place of the receiver.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateWebhookSecret,
  importWebhookEncryptionKey,
  LOCAL_WEBHOOK_ENCRYPTION_KEY,
  sealWebhookSecret,
} from "#core/webhooks";
import { fakeServices } from "../../test/support/fake-services";
import { createApp } from "../app";
import type { Services } from "../services";
import { DohHostResolver } from "../webhooks/doh-host-resolver";
import type {
  DeliveryAttempt,
  WebhookEndpoint,
  WebhookServices,
  WebhookStore,
} from "../webhooks/webhook-store";
import { ErrorBodySchema } from "./error-responses";

/** name → [type, data][] (type 1: A, 28: AAAA, 5: CNAME); a name not set answers NXDOMAIN. */
const records = new Map<string, [number, string][]>();
let dns: Server;
let dnsUrl = "";

beforeAll(async () => {
  dns = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://dns");
    const name = url.searchParams.get("name") ?? "";
    const type = url.searchParams.get("type") === "AAAA" ? 28 : 1;
    const set = records.get(name);
    res.writeHead(200, { "content-type": "application/dns-json" });
    res.end(
      JSON.stringify(
        set === undefined
          ? { Status: 3, Question: [{ name, type }] }
          : {
              Status: 0,
              Question: [{ name, type }],
              Answer: set
                .filter(([t]) => t === type || t === 5)
                .map(([t, data]) => ({ name, type: t, TTL: 60, data })),
            },
      ),
    );
  });
  await new Promise<void>((resolve) => dns.listen(0, "127.0.0.1", resolve));
  dnsUrl = `http://127.0.0.1:${(dns.address() as AddressInfo).port}/dns-query`;
});

afterAll(() => new Promise<void>((resolve) => dns.close(() => resolve())));

async function setup(options: { production: boolean; resolve?: boolean }) {
  const world = fakeServices();
  const admin = await world.keys.create("acme", ["admin"]);
  const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
  const endpoints = new Map<string, WebhookEndpoint>();
  const recorded: DeliveryAttempt[] = [];
  const sent: string[] = [];
  const store = {
    getEndpoint: async (tenant: string, id: string) => {
      const e = endpoints.get(id);
      return e?.tenant === tenant ? e : undefined;
    },
    recordDelivery: async (attempt: DeliveryAttempt) => {
      recorded.push(attempt);
      return { ...attempt, id: `d${recorded.length}`, key: { atUs: "0", id: "0" } };
    },
    close: async () => undefined,
  } as unknown as WebhookStore;
  const webhooks: WebhookServices = {
    open: () => store,
    encryptionKey: async () => key,
    maxEndpointsPerTenant: 20,
    testTimeoutMs: 2_000,
    allowLocalUrls: !options.production,
    fetch: async (input) => {
      sent.push(String(input));
      return new Response(null, { status: 204 });
    },
    resolver:
      options.resolve === false
        ? undefined
        : new DohHostResolver({ endpoint: dnsUrl, timeoutMs: 2_000, fetch }),
  };
  const services = { ...world.services, webhooks } as Services;
  const app = createApp(() => services);
  const register = async (id: string, url: string) => {
    endpoints.set(id, {
      id,
      tenant: "acme",
      url,
      types: ["*"],
      createdAtMs: 0,
      secretSealed: await sealWebhookSecret(key, generateWebhookSecret(), {
        tenant: "acme",
        endpointId: id,
      }),
    });
  };
  const test = (id: string, auth = admin) =>
    app.request(`/v1/webhooks/${id}/test`, {
      method: "POST",
      headers: { authorization: `Bearer ${auth}` },
    });
  return { world, register, test, recorded, sent };
}

describe("POST /v1/webhooks/{id}/test: the resolved addresses", () => {
  it.each([
    ["a private (RFC 1918) address", [[1, "10.0.0.5"]], "10.0.0.5", "private-address"],
    ["loopback", [[1, "127.0.0.1"]], "127.0.0.1", "loopback"],
    ["the metadata service", [[1, "169.254.169.254"]], "169.254.169.254", "link-local"],
    ["a unique-local IPv6 address", [[28, "fd00::1"]], "[fd00::1]", "private-address"],
    [
      "one private address among public ones",
      [
        [1, "93.184.215.14"],
        [1, "192.168.1.20"],
      ],
      "192.168.1.20",
      "private-address",
    ],
    [
      "a CNAME to a private address",
      [
        [5, "inside.example.net."],
        [1, "172.16.3.4"],
      ],
      "172.16.3.4",
      "private-address",
    ],
  ] as const)(
    "in production, refuses a hostname resolving to %s (400, nothing sent)",
    async (_n, set, address, rule) => {
      const { register, test, recorded, sent } = await setup({ production: true });
      const host = `hooks-${rule}-${address.replace(/[^0-9a-f]/g, "")}.example.com`;
      records.set(
        host,
        set.map(([t, d]) => [t, d]),
      );
      await register("wh_1", `https://${host}/driftline`);
      const res = await test("wh_1");
      expect(res.status).toBe(400);
      const body = ErrorBodySchema.parse(await res.json());
      expect(body.error.code).toBe("VALIDATION");
      expect(body.error.message).toContain(
        `The endpoint's URL is refused: ${host} resolved to a refused address: ${address}`,
      );
      expect(body.error.message).toContain(`(rule: ${rule})`);
      expect(body.error.details?.issues?.[0]?.field).toBe("url");
      expect(sent).toEqual([]);
      expect(recorded).toEqual([]);
    },
  );

  it("sends when every address is public (A and AAAA)", async () => {
    const { register, test, recorded, sent } = await setup({ production: true });
    records.set("hooks.public.example.com", [
      [1, "93.184.215.14"],
      [28, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    ]);
    await register("wh_1", "https://hooks.public.example.com/driftline");
    const res = await test("wh_1");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ delivered: true, statusCode: 204 });
    expect(sent).toEqual(["https://hooks.public.example.com/driftline"]);
    expect(recorded).toHaveLength(1);
  });

  it("records a hostname that does not resolve as a failed attempt, without sending", async () => {
    const { register, test, recorded, sent } = await setup({ production: true });
    await register("wh_1", "https://nowhere.invalid-zone.example.com/driftline");
    const res = await test("wh_1");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { delivered: boolean; error: string };
    expect(body.delivered).toBe(false);
    expect(body.error).toBe(
      "nowhere.invalid-zone.example.com did not resolve: the resolver answered NXDOMAIN",
    );
    expect(sent).toEqual([]);
    expect(recorded[0]?.error).toBe(body.error);
  });

  it("in local runs allows a hostname resolving to loopback, still refuses a private one", async () => {
    const { register, test, sent } = await setup({ production: false });
    records.set("receiver.example.com", [[1, "127.0.0.1"]]);
    records.set("office.example.com", [[1, "10.1.2.3"]]);
    await register("wh_loop", "http://receiver.example.com:8080/hook");
    await register("wh_private", "http://office.example.com/hook");
    expect((await test("wh_loop")).status).toBe(200);
    expect((await test("wh_private")).status).toBe(400);
    expect(sent).toEqual(["http://receiver.example.com:8080/hook"]);
  });

  it("does not resolve IP literals (checked with the URL) nor without a resolver", async () => {
    const literal = await setup({ production: false });
    await literal.register("wh_1", "http://127.0.0.1:9/hook");
    expect((await literal.test("wh_1")).status).toBe(200);
    expect(literal.sent).toEqual(["http://127.0.0.1:9/hook"]);
    const unresolved = await setup({ production: false, resolve: false });
    await unresolved.register("wh_1", "http://not-in-the-dns-server.example.com/hook");
    expect((await unresolved.test("wh_1")).status).toBe(200);
    expect(unresolved.sent).toEqual(["http://not-in-the-dns-server.example.com/hook"]);
  });
});
