/** HostResolver over DNS-over-HTTPS (JSON): workerd has no DNS API, so the Worker asks a resolver. */
import { DNS_TYPE, readDnsJsonAnswer } from "#core/webhooks";
import type { HostResolution, HostResolver } from "./webhook-store";

export interface DohHostResolverOptions {
  /** The resolver's JSON endpoint, e.g. `https://cloudflare-dns.com/dns-query`. */
  endpoint: string;
  timeoutMs: number;
  fetch: typeof fetch;
}

/** Asks for A and AAAA records at once; a hostname whose lookups both fail is unresolved. */
export class DohHostResolver implements HostResolver {
  constructor(private readonly options: DohHostResolverOptions) {}

  async resolveAll(hostname: string): Promise<HostResolution> {
    const [v4, v6] = await Promise.all([
      this.lookup(hostname, DNS_TYPE.A),
      this.lookup(hostname, DNS_TYPE.AAAA),
    ]);
    if (!v4.ok && !v6.ok) return { ok: false, message: v4.message };
    // Every address either lookup found is checked: one family failing hides none of the other.
    return {
      ok: true,
      addresses: [...(v4.ok ? v4.addresses : []), ...(v6.ok ? v6.addresses : [])],
    };
  }

  private async lookup(
    hostname: string,
    type: (typeof DNS_TYPE)[keyof typeof DNS_TYPE],
  ): Promise<HostResolution> {
    const url = new URL(this.options.endpoint);
    url.searchParams.set("name", hostname);
    url.searchParams.set("type", type === DNS_TYPE.A ? "A" : "AAAA");
    try {
      const response = await this.options.fetch(url.href, {
        headers: { accept: "application/dns-json" },
        redirect: "error",
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return { ok: false, message: `the DNS resolver answered HTTP ${response.status}` };
      }
      return readDnsJsonAnswer(await response.json(), type);
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      return {
        ok: false,
        message:
          name === "TimeoutError" || name === "AbortError"
            ? `the DNS resolver did not answer within ${this.options.timeoutMs} ms`
            : `the DNS resolver cannot be reached (${error instanceof Error ? error.message : String(error)})`,
      };
    }
  }
}
