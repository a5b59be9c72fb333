/** The local Graph API test server, served on a port of its own for a test (stop and start again on the same port). */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import {
  createGraphApiTestServer,
  type GraphApiTestServerOptions,
} from "../../scripts/graph-api-test-server/graph-api-test-server";

export type GraphApiTestServer = ReturnType<typeof createGraphApiTestServer> & {
  url: string;
  port: number;
  /** Stops answering (connections refused), keeping what it recorded. */
  stop(): Promise<void>;
  /** Answers again on the same port. */
  start(): Promise<void>;
};

export async function startGraphApiTestServer(
  options: GraphApiTestServerOptions & { port?: number; listening?: boolean } = {},
): Promise<GraphApiTestServer> {
  const server = createGraphApiTestServer(options);
  let port = options.port ?? 0;
  let running: ReturnType<typeof serve> | undefined;
  const start = () =>
    new Promise<void>((resolve) => {
      running = serve({ fetch: server.app.fetch, hostname: "127.0.0.1", port }, (info) => {
        port = (info as AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (running === undefined) return resolve();
      running.close(() => resolve());
      (running as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      running = undefined;
    });
  await start();
  if (options.listening === false) await stop();
  return {
    ...server,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stop,
    start,
  };
}
