// The delivering fetch against a real local HTTP server: it connects to the address its own
// resolution checked, and refuses a hostname that resolves (or re-resolves) to a forbidden one.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkResolvedAddress } from "#core/webhooks";
import { createGuardedFetch, type ResolveAll } from "./guarded-fetch";

let server: Server;
let port: number;
const hosts: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hosts.push(req.headers.host ?? "");
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** A resolver answering from a table, counting its calls (as a rebinding DNS server would change its answer). */
function resolverOf(answers: Record<string, string[]>): ResolveAll & { calls: number } {
  const resolve = Object.assign(
    async (hostname: string) => {
      resolve.calls += 1;
      const list = answers[hostname];
      if (list === undefined)
        throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
      return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    },
    { calls: 0 },
  );
  return resolve;
}

const post = (f: typeof fetch, url: string) =>
  f(url, { method: "POST", body: "{}", signal: AbortSignal.timeout(5_000) });

describe("guarded webhook fetch", () => {
  it("connects to the address its own resolution returned (the Host stays the URL's)", async () => {
    const resolve = resolverOf({ "hooks.example.test": ["127.0.0.1"] });
    const f = createGuardedFetch({ allowLocal: true }, resolve);
    const res = await post(f, `http://hooks.example.test:${port}/in`);
    expect(res.status).toBe(204);
    expect(resolve.calls).toBeGreaterThanOrEqual(1);
    expect(hosts.at(-1)).toBe(`hooks.example.test:${port}`);
  });

  it("in production refuses a public-looking hostname that resolves to loopback (DNS rebinding)", async () => {
    const before = hosts.length;
    const resolve = resolverOf({ "rebind.example.test": ["127.0.0.1"] });
    const f = createGuardedFetch({ allowLocal: false }, resolve);
    const error = await post(f, `http://rebind.example.test:${port}/in`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error & { cause?: Error }).cause?.message)).toMatch(
      /resolved to a refused address: 127\.0\.0\.1 is a loopback address/,
    );
    expect(hosts.length).toBe(before);
  });

  it("refuses the whole hostname when any of its addresses is forbidden", async () => {
    const resolve = resolverOf({ "mixed.example.test": ["93.184.216.34", "169.254.169.254"] });
    const f = createGuardedFetch({ allowLocal: false }, resolve);
    const error = (await post(f, `http://mixed.example.test:${port}/`).catch(
      (e: unknown) => e,
    )) as Error & { cause?: Error };
    expect(error.cause?.message).toContain("link-local");
  });

  it.each([
    ["10.1.2.3", "private-address"],
    ["192.168.0.9", "private-address"],
    ["169.254.169.254", "link-local"],
    ["127.0.0.53", "loopback"],
    ["::1", "loopback"],
    ["fe80::1", "link-local"],
    ["fd00::5", "private-address"],
    ["::ffff:10.0.0.1", "ipv4-mapped-ipv6"],
  ])("checks resolved %s as %s", (address, rule) => {
    expect(checkResolvedAddress(address, { allowLocal: false })).toMatchObject({ ok: false, rule });
  });

  it("lets public addresses through, and loopback only in local runs", () => {
    expect(checkResolvedAddress("93.184.216.34", { allowLocal: false })).toEqual({ ok: true });
    expect(checkResolvedAddress("2606:4700::6810:84e5", { allowLocal: false })).toEqual({
      ok: true,
    });
    expect(checkResolvedAddress("127.0.0.1", { allowLocal: true })).toEqual({ ok: true });
    expect(checkResolvedAddress("10.0.0.1", { allowLocal: true })).toMatchObject({ ok: false });
  });
});
