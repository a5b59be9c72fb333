/** Arranging rows for the read API's Worker tests: SQL on the test schema through the local relay. */
import { Client } from "@neondatabase/serverless";
import { rawEnv } from "./support";

/** Runs one statement on its own connection (the DATABASE_URL binding's schema). */
export async function sql(
  text: string,
  values: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: String(rawEnv.DATABASE_URL) });
  const relay = new URL(String(rawEnv.NEON_WS_RELAY_URL));
  client.neonConfig.wsProxy = (host, port) => `${relay.host}/v2?address=${host}:${port}`;
  client.neonConfig.useSecureWebSocket = false;
  client.neonConfig.pipelineConnect = false;
  client.neonConfig.pipelineTLS = false;
  // workerd reports the socket closing after end() as an error event; nothing to handle then.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}
