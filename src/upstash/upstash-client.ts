/** One `@upstash/redis` client per isolate and endpoint (the client is stateless over HTTP). */
import { Redis } from "@upstash/redis/cloudflare";

const clients = new Map<string, Redis>();

export function upstashClient(url: string, token: string): Redis {
  const cacheKey = `${url}\n${token}`;
  let client = clients.get(cacheKey);
  if (!client) {
    // Few, fast retries: an edge request should fail quickly rather than wait ~4 s on a dead store.
    client = new Redis({
      url,
      token,
      retry: { retries: 2, backoff: (n) => 25 * 2 ** n },
      enableTelemetry: false,
    });
    clients.set(cacheKey, client);
  }
  return client;
}
