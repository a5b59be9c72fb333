/** Entry of the local Graph API test server: `npx tsx scripts/graph-api-test-server/main.ts`. */
import { serve } from "@hono/node-server";
import pino from "pino";
import { z } from "zod";
import { envPort } from "#core/config";
import { createGraphApiTestServer } from "./graph-api-test-server";

// GRAPH_API_TEST_HOST [127.0.0.1], GRAPH_API_TEST_PORT [8090]
const config = z
  .object({
    GRAPH_API_TEST_HOST: z.string().default("127.0.0.1"),
    GRAPH_API_TEST_PORT: envPort(8090),
  })
  .parse(process.env);
const log = pino({ name: "graph-api-test-server" });
const { app } = createGraphApiTestServer();
const server = serve(
  { fetch: app.fetch, hostname: config.GRAPH_API_TEST_HOST, port: config.GRAPH_API_TEST_PORT },
  (info) =>
    log.info({ url: `http://${info.address}:${info.port}` }, "Graph API test server listening"),
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
