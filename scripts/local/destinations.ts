/** The local Graph API test server and the delivery service as local-stack daemons (for `npm start`). */
import { resolve } from "node:path";
import type { LocalStackConfig } from "./config";
import { daemonService, runningPid, tsxDaemon } from "./process";
import type { LocalService } from "./service";

const GRAPH_MAIN = resolve(import.meta.dirname, "../graph-api-test-server/main.ts");
const DELIVERY_MAIN = resolve(import.meta.dirname, "../../stream-processor/delivery-main.ts");

export function graphApiTestServerUrl(config: LocalStackConfig): string {
  return `http://127.0.0.1:${config.GRAPH_API_TEST_PORT}`;
}

/** Stands in for Meta's Graph API, so destinations created locally have somewhere to deliver. */
export function graphApiTestServerService(config: LocalStackConfig): LocalService {
  const url = graphApiTestServerUrl(config);
  return daemonService({
    name: "graph-api-test-server",
    label: "the Graph API test server",
    url,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: async () => {
      try {
        const res = await fetch(`${url}/_driftline/received`, {
          signal: AbortSignal.timeout(2_000),
        });
        return res.status === 200;
      } catch {
        return false;
      }
    },
    spawn: () =>
      tsxDaemon(GRAPH_MAIN, { env: { GRAPH_API_TEST_PORT: String(config.GRAPH_API_TEST_PORT) } }),
    readyTimeoutMs: 30_000,
    stopGraceMs: 5_000,
  });
}

/** The delivery service, forwarding to the Graph API test server; ready when its /ready says so. */
export function deliveryService(
  config: LocalStackConfig,
  env: Record<string, string>,
): LocalService {
  const url = `http://127.0.0.1:${config.DELIVERY_API_PORT}`;
  return daemonService({
    name: "delivery",
    label: "the delivery service",
    port: { number: config.DELIVERY_API_PORT, variable: "DELIVERY_API_PORT" },
    url: `${url} → ${graphApiTestServerUrl(config)}`,
    stateDir: config.DRIFTLINE_STATE_DIR,
    isReady: async () => {
      if (runningPid(config.DRIFTLINE_STATE_DIR, "delivery") === undefined) return false;
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    },
    spawn: () =>
      tsxDaemon(DELIVERY_MAIN, {
        env: {
          ...env,
          META_GRAPH_API_URL: graphApiTestServerUrl(config),
          DELIVERY_API_PORT: String(config.DELIVERY_API_PORT),
        },
      }),
    readyTimeoutMs: 30_000,
    stopGraceMs: 35_000,
  });
}
